// Package database holds what every data store component hands to the services that use it: an
// Endpoint, the same whether the store runs in the cluster or as a managed cloud service.
package database

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Keys of the credentials Secret every data store component writes for a service. A service
// reads these and nothing else, so it never knows where its database runs.
const (
	KeyHost     = "host"
	KeyPort     = "port"
	KeyDatabase = "dbname"
	KeyUsername = "username"
	KeyPassword = "password"
	// KeyURI is a ready-to-use connection URI including the password.
	KeyURI = "uri"
)

// Endpoint is how a service reaches one data store.
type Endpoint struct {
	// Host is the DNS name clients connect to (a Kubernetes Service or a cloud endpoint).
	Host pulumi.StringOutput
	// Port is the TCP port.
	Port pulumi.IntOutput
	// Database is the database name; empty for a cache.
	Database pulumi.StringOutput
	// SecretName is the Kubernetes Secret, in SecretNamespace, holding the Key* entries.
	SecretName pulumi.StringOutput
	// SecretNamespace is the namespace of that Secret: the consuming service's namespace.
	SecretNamespace string
	// TLS says whether clients must connect with TLS.
	TLS bool
}
