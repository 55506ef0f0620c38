// Command etcd is etcd's own server entrypoint, built from the published go.etcd.io/etcd/server/v3
// module at the version Kubernetes pins (see controlplane/build.ts), so no release tarball is needed.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
