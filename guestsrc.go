// Package mote holds the sources of mote's guest side (the library OS in
// kernel/ and the monitor<->guest contract in abi/), embedded so that the
// image builder can link them into programs that live outside this module.
package mote

import (
	"embed"
	"io/fs"
)

// The go.mod and go.sum are embedded so that the builder can give the
// extracted guest module the requirements the library OS needs, if any.
//
//go:embed abi/*.go virtio/*.go kernel guestnet go.mod go.sum
var guestFiles embed.FS

// GuestFS returns the embedded guest sources. Paths are relative to the
// module root ("abi/abi.go", "kernel/..."), plus "go.mod" and "go.sum" of
// this module. Test files (*_test.go) are included; extractors should skip
// them.
func GuestFS() fs.FS { return guestFiles }

// ModulePath is the module path of the guest sources.
const ModulePath = "github.com/motevm/mote"
