// Command project is the guest of tests/project_test.go: it prints its
// name and arguments, MODE, its working directory and a sealed file.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	wd, _ := os.Getwd()
	b, err := os.ReadFile("static/index.html")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("%s: args %v MODE=%s wd %s index %s\n", os.Args[0], os.Args[1:], os.Getenv("MODE"), wd, strings.TrimSpace(string(b)))
}
