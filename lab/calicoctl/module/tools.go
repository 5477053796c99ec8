//go:build tools

// Pins calicoctl's main package as a dependency of this wrapper module, so that go.mod and
// go.sum describe exactly what lab/calicoctl/build.ts builds.
package tools

import _ "github.com/projectcalico/calico/calicoctl/calicoctl"
