// Command mounts reports what the guest sees of the tmpfs mounts mote run
// --tmpfs asked for (tests/files_test.go: TestTmpfsMounts).
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	m, _ := os.ReadFile("/proc/self/mounts")
	fmt.Print(string(m))
	err := os.WriteFile("/data/x", make([]byte, 3<<20), 0o644)
	fmt.Println("write 3M", err)
	err = os.WriteFile("/data/y", make([]byte, 3<<20), 0o644)
	fmt.Println("write 3M more", err)
	var st syscall.Statfs_t
	syscall.Statfs("/data", &st)
	fmt.Println("blocks", st.Blocks, "free", st.Bfree)
	fmt.Println("rename across", os.Rename("/data/x", "/tmp/x"))
	fi, _ := os.Stat("/srv/cache")
	fmt.Println("nested", fi.IsDir(), fi.Mode())
	fmt.Println(os.WriteFile("/srv/cache/f", []byte("hi"), 0o600))
}
