// Command oom keeps 400 MiB alive, touching every byte.
package main

import "fmt"

var keep [][]byte

func main() {
	for i := 0; i < 400; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep), "MiB")
}
