// Package image builds a domain service's container image from its folder and pushes it to the
// stack's registry, tagged by the content it is built from, or refers to an image CI built.
// Tags are never "latest": a tag names exactly one build.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Auth is how the program logs in to a registry to push.
type Auth struct {
	Server   pulumi.StringInput
	Username pulumi.StringInput
	// Password is a secret.
	Password pulumi.StringInput
}

// BuildArgs builds one service image.
type BuildArgs struct {
	// Root is the build context: the module root, so the service and the shared chassis build
	// together.
	Root string
	// Dockerfile is the Dockerfile, relative to Root.
	Dockerfile string
	// Args are the Dockerfile's build arguments, e.g. SERVICE, which names the service where
	// one Dockerfile builds them all. Optional.
	Args map[string]string
	// Sources are the paths, relative to Root, whose content the tag is derived from: the
	// service's folder, the shared chassis, go.mod and go.sum.
	Sources []string
	// Repository is where the image is pushed, without a tag.
	Repository pulumi.StringInput
	// Auth logs in to push. Optional: a registry that takes anonymous pushes (a local one).
	Auth *Auth
	// Platform is the OS/architecture built for, e.g. "linux/amd64".
	Platform string
}

// Image is a built or referenced image.
type Image struct {
	// Ref is the reference pods pull: repository@digest when built, repository:tag or
	// repository@digest when prebuilt.
	Ref pulumi.StringOutput
	// Tag is the content tag a build was pushed under.
	Tag string
}

// Build builds and pushes the image, tagged "sha-" and the first 12 hex digits of the SHA-256
// of Sources: the same sources give the same tag, so an unchanged service is not rebuilt.
func Build(ctx *pulumi.Context, name string, args BuildArgs, opts ...pulumi.ResourceOption) (*Image, error) {
	if args.Root == "" || args.Dockerfile == "" || len(args.Sources) == 0 || args.Repository == nil || args.Platform == "" {
		return nil, fmt.Errorf("image %s: Root, Dockerfile, Sources, Repository and Platform are required", name)
	}
	tag, err := ContentTag(args.Root, args.Sources)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	ia := &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", args.Repository, tag),
		Build: &docker.DockerBuildArgs{
			Context:        pulumi.String(args.Root),
			Dockerfile:     pulumi.String(filepath.Join(args.Root, args.Dockerfile)),
			Platform:       pulumi.String(args.Platform),
			Args:           pulumi.ToStringMap(args.Args),
			BuilderVersion: docker.BuilderVersionBuilderBuildKit,
		},
		// A preview does not build: it only needs the reference.
		BuildOnPreview: pulumi.Bool(false),
	}
	if a := args.Auth; a != nil {
		ia.Registry = &docker.RegistryArgs{Server: a.Server, Username: a.Username, Password: a.Password}
	}
	img, err := docker.NewImage(ctx, name, ia, opts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return &Image{Ref: img.RepoDigest, Tag: tag}, nil
}

var (
	tagRef    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRef = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// Prebuilt refers to an image CI built: by digest ("sha256:…") or by an immutable tag.
func Prebuilt(repository pulumi.StringInput, version string) (*Image, error) {
	switch {
	case digestRef.MatchString(version):
		return &Image{Ref: pulumi.Sprintf("%s@%s", repository, version)}, nil
	case version == "latest" || version == "":
		return nil, fmt.Errorf("image version %q: pin a tag or a digest; latest is never deployed", version)
	case tagRef.MatchString(version):
		return &Image{Ref: pulumi.Sprintf("%s:%s", repository, version), Tag: version}, nil
	}
	return nil, fmt.Errorf("image version %q is neither a tag nor a sha256 digest", version)
}

// ContentTag hashes the files under the given paths (relative to root), names and contents in
// a stable order, into "sha-<12 hex>".
func ContentTag(root string, paths []string) (string, error) {
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("content tag: %w", err)
		}
	}
	if len(files) == 0 {
		return "", errors.New("content tag: no files under " + strings.Join(paths, ", "))
	}
	slices.Sort(files)
	h := sha256.New()
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		fh, err := os.Open(f)
		if err != nil {
			return "", fmt.Errorf("content tag: %w", err)
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("content tag: %w", err)
		}
		h.Write([]byte{0})
	}
	return "sha-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}
