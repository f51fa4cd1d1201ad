// Command sealed checks, in the guest, the files mote build sealed into
// its image (tests/files_test.go gives the tree): it prints one line per
// check for the test to compare.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing/fstest"
)

func main() {
	// The sealed directory, as a file system, holds exactly the tree.
	err := fstest.TestFS(os.DirFS("/srv/static"), "index.html", "css/site.css", "empty", "link.html")
	fmt.Println("fstest:", errString(err))

	b, err := os.ReadFile("/etc/app/config.yaml")
	fmt.Printf("config: %q %s\n", b, errString(err))

	wd, err := os.Getwd()
	fmt.Println("getwd:", wd, errString(err))
	b, err = os.ReadFile("index.html") // relative to the working directory
	fmt.Printf("relative: %q %s\n", b, errString(err))

	target, err := os.Readlink("/srv/static/link.html")
	fmt.Println("readlink:", target, errString(err))
	b, err = os.ReadFile("/srv/static/link.html")
	fmt.Printf("through link: %q %s\n", b, errString(err))

	st, err := os.Stat("/srv/static/css/site.css")
	if err == nil {
		fmt.Printf("stat: %v %d %d\n", st.Mode(), st.Size(), st.ModTime().Unix())
	} else {
		fmt.Println("stat:", errString(err))
	}

	err = os.WriteFile("/srv/static/new.txt", []byte("x"), 0o644)
	fmt.Println("create in sealed dir:", errString(err))
	f, err := os.OpenFile("/srv/static/index.html", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	fmt.Println("open sealed file for writing:", errString(err))
	fmt.Println("remove sealed file:", errString(os.Remove("/srv/static/index.html")))
	fmt.Println("chmod sealed file:", errString(os.Chmod("/srv/static/index.html", 0o600)))

	// The library OS's own files are still there beside the sealed ones.
	_, err = os.Stat("/etc/hosts")
	fmt.Println("/etc/hosts:", errString(err))
	// And /tmp is writable.
	err = os.WriteFile("/tmp/scratch", []byte("ok"), 0o600)
	fmt.Println("/tmp write:", errString(err))
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "errno " + errnoName(errno)
	}
	return err.Error()
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EROFS:
		return "EROFS"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EPERM:
		return "EPERM"
	}
	return fmt.Sprint(int(e))
}
