// Command cat reads its standard input: "lines" upper-cases it line by line,
// otherwise it reports how many bytes it read until the end of input.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "lines" {
		sc := bufio.NewScanner(os.Stdin)
		n := 0
		for sc.Scan() {
			n++
			fmt.Println(n, strings.ToUpper(sc.Text()))
		}
		return
	}
	b, err := io.ReadAll(os.Stdin)
	fmt.Printf("read %d bytes, err %v\n", len(b), err)
}
