package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/image"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	}
}

func TestContentTagChangesWithTheSourcesOnly(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.mod": "module x\n", "services/identity/main.go": "package main\n",
		"services/chassis/http.go": "package chassis\n", "services/user/main.go": "package main\n",
	})
	sources := []string{"go.mod", "services/chassis", "services/identity"}
	first, err := image.ContentTag(root, sources)
	require.NoError(t, err)
	assert.Regexp(t, `^sha-[0-9a-f]{12}$`, first)
	again, err := image.ContentTag(root, sources)
	require.NoError(t, err)
	assert.Equal(t, first, again, "the same sources give the same tag")

	writeFiles(t, root, map[string]string{"services/user/main.go": "package main // another service\n"})
	unrelated, err := image.ContentTag(root, sources)
	require.NoError(t, err)
	assert.Equal(t, first, unrelated, "another service's change does not rebuild this one")

	writeFiles(t, root, map[string]string{"services/chassis/http.go": "package chassis // fix\n"})
	changed, err := image.ContentTag(root, sources)
	require.NoError(t, err)
	assert.NotEqual(t, first, changed, "a chassis change rebuilds every service")

	require.NoError(t, os.Rename(filepath.Join(root, "services/identity/main.go"), filepath.Join(root, "services/identity/cmd.go")))
	renamed, err := image.ContentTag(root, sources)
	require.NoError(t, err)
	assert.NotEqual(t, changed, renamed, "a renamed file changes the tag")

	_, err = image.ContentTag(root, []string{"services/missing"})
	assert.ErrorContains(t, err, "content tag:")
}

func TestPrebuiltImagesArePinned(t *testing.T) {
	repo := pulumi.String("registry.example.com/groundwork/identity")
	tests := []struct{ version, wantErr string }{
		{"latest", `image version "latest": pin a tag or a digest; latest is never deployed`},
		{"", `image version "": pin a tag or a digest; latest is never deployed`},
		{"v1.4.2 ", `image version "v1.4.2 " is neither a tag nor a sha256 digest`},
		{"sha256:" + "ab", `image version "sha256:ab" is neither a tag nor a sha256 digest`},
		{"v1.4.2", ""},
		{"sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			img, err := image.Prebuilt(repo, tt.version)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, img)
		})
	}
}

func TestBuildPushesAContentTaggedImageWithASecretLogin(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"go.mod": "module x\n", "services/identity/Dockerfile": "FROM scratch\n"})
	m, err := runComponent(t, func(ctx *pulumi.Context, _ pulumi.ResourceOption) error {
		_, err := image.Build(ctx, "image-identity", image.BuildArgs{
			Root: root, Dockerfile: "services/identity/Dockerfile", Sources: []string{"go.mod", "services/identity"},
			Repository: pulumi.String("123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-prod/identity"),
			Auth: &image.Auth{
				Server: pulumi.String("123456789012.dkr.ecr.eu-west-1.amazonaws.com"), Username: pulumi.String("AWS"),
				Password: pulumi.ToSecret(pulumi.String("ecr-token")).(pulumi.StringOutput),
			},
			Platform: "linux/amd64",
		})
		return err
	})
	require.NoError(t, err)
	img := m.byName(t, "docker:index/image:Image", "image-identity")
	tag, err := image.ContentTag(root, []string{"go.mod", "services/identity"})
	require.NoError(t, err)
	assert.Equal(t, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-prod/identity:"+tag, get(img.Inputs, "imageName").StringValue())
	assert.Equal(t, "linux/amd64", get(img.Inputs, "build.platform").StringValue())
	reg := img.Inputs["registry"]
	require.True(t, reg.IsObject() || reg.IsSecret())
	assert.True(t, reg.IsSecret() || reg.ObjectValue()["password"].IsSecret(), "the push password stays a secret")
}
