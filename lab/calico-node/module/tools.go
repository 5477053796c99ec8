//go:build tools

// Package tools pins what lab/calico-node/build.ts builds (calico-node's main package and Calico's
// CNI plugin), so that go.mod and go.sum hold exactly what they need.
package tools

import (
	_ "github.com/projectcalico/calico/cni-plugin/cmd/calico"
	_ "github.com/projectcalico/calico/node/cmd/calico-node"
)
