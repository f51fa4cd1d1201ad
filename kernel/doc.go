// Package kernel is mote's library OS: the guest side that `mote build` links
// into every image. See docs/architecture.md.
package kernel
