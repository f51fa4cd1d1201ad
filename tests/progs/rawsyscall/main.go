// Command rawsyscall executes a SYSCALL instruction that the image builder
// cannot see (it is encoded as bytes), to check the library OS's trap path.
package main

import (
	"fmt"
	"os"
)

func rawGetpid() int64
func rawWrite(fd int64, p *byte, n int64) int64

func main() {
	msg := []byte("written by a raw SYSCALL\n")
	n := rawWrite(1, &msg[0], int64(len(msg)))
	fmt.Printf("rawgetpid=%d getpid=%d write=%d\n", rawGetpid(), os.Getpid(), n)
}
