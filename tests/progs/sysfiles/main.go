// Command sysfiles checks what a program finds on a Linux machine that a
// guest has only because mote build adds it: the time zone database and,
// for a program with a network, the root certificates.
package main

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"
)

var _ = net.ParseIP // a program with a network

func main() {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		fmt.Println("FAIL tz:", err)
		os.Exit(1)
	}
	fmt.Println("tz", time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC).In(loc).Format(time.RFC3339))
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		fmt.Println("FAIL roots:", err)
		os.Exit(1)
	}
	fmt.Println("roots", len(pool.Subjects()) > 50)
}
