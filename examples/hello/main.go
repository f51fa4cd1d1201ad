// Command hello is mote's smallest example: an ordinary Go program.
//
// It prints "hello, " followed by its arguments, prints $GREETING if set, and
// exits with the status in $EXIT_CODE if set.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	fmt.Println("hello, " + strings.Join(os.Args[1:], " "))
	if g, ok := os.LookupEnv("GREETING"); ok {
		fmt.Println(g)
	}
	if s := os.Getenv("EXIT_CODE"); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello: bad EXIT_CODE %q\n", s)
			os.Exit(2)
		}
		os.Exit(code)
	}
}
