package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
)

// One Dockerfile builds every service, the build argument naming it, under the content tag CI
// computes with services/imagetags (platform.ImageTags): CI's images and the program's agree.
func TestEveryServiceImageComesFromTheOneDockerfile(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	tags, err := platform.ImageTags("services")
	require.NoError(t, err)
	require.Len(t, tags, len(theServices))
	for _, tt := range tags {
		img := m.byName(t, "docker:index/image:Image", "image-"+tt.Service)
		assert.Equal(t, filepath.Join(".", "services", "Dockerfile"), filepath.Clean(get(img.Inputs, "build.dockerfile").StringValue()))
		assert.Equal(t, tt.Service, objectMap(get(img.Inputs, "build.args"))["SERVICE"])
		assert.True(t, strings.HasSuffix(get(img.Inputs, "imageName").StringValue(), "/"+tt.Service+":"+tt.Tag), get(img.Inputs, "imageName").StringValue())
	}
	assert.NoFileExists(t, "services/user/Dockerfile", "no per-service copies")
}
