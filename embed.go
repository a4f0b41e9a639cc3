// Package connectdoctor holds the files kept at the repository root that are
// built into the binary: the Connect app descriptor template
// (atlassian-connect.json). Everything else lives in the subpackages.
package connectdoctor

import (
	"bytes"
	_ "embed"
)

//go:embed atlassian-connect.json
var descriptorTemplate []byte

// DescriptorTemplate returns a copy of atlassian-connect.json as committed.
func DescriptorTemplate() []byte { return bytes.Clone(descriptorTemplate) }
