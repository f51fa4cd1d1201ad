package build

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	mote "github.com/motevm/mote"
)

// The socket hook: for programs that use package net, package syscall is
// built with two changes (through the overlay) that route socket calls to
// mote's guest network stack, package guestnet. See
// sockhook/zz_mote_sock.go.in for why the hook sits where it does.

// GuestNetPackage is the import path of the guest network stack.
const GuestNetPackage = mote.ModulePath + "/guestnet"

//go:embed sockhook/zz_mote_sock.go.in
var sockHookSrc []byte

// sockHookEdits are the changes to GOROOT/src/syscall/syscall_linux.go:
// each old text must occur exactly once.
var sockHookEdits = []struct{ old, new string }{
	{
		"func RawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {\n",
		"func RawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {\n" +
			"\tif moteSockWants(trap, a1, a2) {\n\t\treturn moteSockCall(trap, a1, a2, a3, a4, a5, a6)\n\t}\n",
	},
	{
		"func Syscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno) {\n",
		"func Syscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno) {\n" +
			"\tif moteSockWants(trap, a1, a2) {\n\t\treturn moteSockCall(trap, a1, a2, a3, 0, 0, 0)\n\t}\n",
	},
	{
		"\tr1, r2, err = RawSyscall6(trap, a1, a2, a3, 0, 0, 0)\n\truntime_exitsyscall()\n",
		"\tr1, r2, err = moteRawSyscall6(trap, a1, a2, a3, 0, 0, 0)\n\truntime_exitsyscall()\n",
	},
	{
		"func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {\n",
		"func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {\n" +
			"\tif moteSockWants(trap, a1, a2) {\n\t\treturn moteSockCall(trap, a1, a2, a3, a4, a5, a6)\n\t}\n",
	},
	{
		"\tr1, r2, err = RawSyscall6(trap, a1, a2, a3, a4, a5, a6)\n\truntime_exitsyscall()\n",
		"\tr1, r2, err = moteRawSyscall6(trap, a1, a2, a3, a4, a5, a6)\n\truntime_exitsyscall()\n",
	},
}

// addSockHook adds the hook to the overlay.
func (b *builder) addSockHook(goroot string) error {
	dir := filepath.Join(goroot, "src", "syscall")
	path := filepath.Join(dir, "syscall_linux.go")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mote build: cannot read the standard library's syscall package: %v", err)
	}
	src, err := applySockHook(string(data))
	if err != nil {
		return err
	}
	out := filepath.Join(b.tmp, "syscall_linux.go")
	if err := os.WriteFile(out, []byte(src), 0o644); err != nil {
		return fmt.Errorf("mote build: %v", err)
	}
	hook := filepath.Join(b.tmp, "zz_mote_sock.go")
	if err := os.WriteFile(hook, sockHookSrc, 0o644); err != nil {
		return fmt.Errorf("mote build: %v", err)
	}
	b.overlay[path] = out
	b.overlay[filepath.Join(dir, "zz_mote_sock.go")] = hook
	return nil
}

func applySockHook(src string) (string, error) {
	for _, e := range sockHookEdits {
		if n := strings.Count(src, e.old); n != 1 {
			return "", fmt.Errorf("mote build: this Go version's package syscall does not have the shape mote's socket hook expects (%q found %d times); use a Go version mote supports", strings.TrimSpace(e.old), n)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src, nil
}
