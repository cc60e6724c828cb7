// Package services holds the domain services of the platform, one folder each, and finds them
// for the deploy program: a folder with a service.yaml is a service, and adding a service is
// adding a folder.
package services

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// SpecFile is the file that makes a folder under services/ a deployable service.
const SpecFile = "service.yaml"

var serviceName = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// Discover returns the names of the services in dir, sorted: every sub-folder holding a
// service.yaml. A folder name that cannot be a Kubernetes or registry name is an error, and so is
// a missing dir.
func Discover(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	var names []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		spec := filepath.Join(dir, e.Name(), SpecFile)
		if _, err := os.Stat(spec); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("services: %w", err))
			continue
		}
		if !serviceName.MatchString(e.Name()) || len(e.Name()) > 40 {
			errs = append(errs, fmt.Errorf("services: folder %q: a service name must be a DNS label of at most 40 characters (lower-case letters, digits, '-')", filepath.Join(dir, e.Name())))
			continue
		}
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, errors.Join(errs...)
}
