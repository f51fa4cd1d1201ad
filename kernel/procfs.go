package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// The process's files in /proc, as monitoring libraries read them (the
// Prometheus client's process collector: CPU time, memory, start time,
// limits). The program is process 1; /proc/self links to /proc/1.

// clkTck is USER_HZ, the unit of CPU times in /proc.
const clkTck = 100

// /proc/1/fd lists the open descriptors (so monitoring can count them);
// its directory inode's data is fdDirMark, and its entries, made at each
// read, are links (fdLinkIno, an inode of its own kind, gives their type).
// Looking an entry up is not supported yet.
const fdDirMark = 1

var fdLinkIno int32

// argv, each NUL-terminated, for /proc/1/cmdline: where it lies in the
// boot info (an address, not a pointer: no write barrier in kernel code).
var cmdlineAddr, cmdlineLen uint64

// procInit keeps argv for /proc/1/cmdline.
func procInit(b *abi.BootInfo) {
	strs := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(b.StringsGPA))), b.StringsLen)
	n, args := 0, uint32(0)
	for n < len(strs) && args < b.Argc {
		if strs[n] == 0 {
			args++
		}
		n++
	}
	cmdlineAddr, cmdlineLen = b.StringsGPA, uint64(n)
}

func cmdlineTxt() string {
	if cmdlineLen == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(uintptr(cmdlineAddr))), cmdlineLen)
}

// vmSize is the address space in use: the image and the mappings.
func vmSize() uint64 {
	size := imageEnd - lazyBytes
	v := vmas()
	for i := 0; i < nvma; i++ {
		size += v[i].end - v[i].start
	}
	return size
}

// procStatRead reads /proc/1/stat.
func procStatRead(p, n uint64, pos int64) int64 {
	var t textBuf
	t.s("1 (")
	comm := exeTarget[:exeLen]
	for i := len(comm) - 1; i >= 0; i-- {
		if comm[i] == '/' {
			comm = comm[i+1:]
			break
		}
	}
	if len(comm) > 15 {
		comm = comm[:15]
	}
	t.s(unsafe.String(unsafe.SliceData(comm), len(comm)))
	t.s(") R 0 1 1 0 -1 4194560 ") // ppid pgrp session tty_nr tpgid flags
	t.dec(pageFaults)              // minflt
	t.s(" 0 0 0 ")                 // cminflt majflt cmajflt
	t.dec(uint64(procUtimeNs) / (1e9 / clkTck))
	t.s(" ")
	t.dec(uint64(procStimeNs) / (1e9 / clkTck))
	t.s(" 0 0 20 0 ") // cutime cstime priority nice
	t.dec(uint64(nthreads - countDead()))
	t.s(" 0 0 ") // itrealvalue starttime (at boot)
	t.dec(vmSize())
	t.s(" ")
	t.dec(usedFrames + kernelPages + (imageEnd-lazyBytes)/pageSize) // rss, pages
	t.s(" 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	return textCopy(&t, p, n, pos)
}

// procStatSysRead reads /proc/stat: the CPU times and the boot time.
func procStatSysRead(p, n uint64, pos int64) int64 {
	var t textBuf
	user, sys := uint64(procUtimeNs)/(1e9/clkTck), uint64(procStimeNs)/(1e9/clkTck)
	idle := uint64(0)
	if up := uint64(uptime()) / (1e9 / clkTck) * uint64(numCPUs); up > user+sys {
		idle = up - user - sys
	}
	t.s("cpu  ")
	t.dec(user)
	t.s(" 0 ")
	t.dec(sys)
	t.s(" ")
	t.dec(idle)
	t.s(" 0 0 0 0 0 0\nbtime ")
	t.dec(wallBase / 1e9)
	t.s("\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n")
	return textCopy(&t, p, n, pos)
}

// textCopy copies the generated text from pos into user memory [p, p+n).
func textCopy(t *textBuf, p, n uint64, pos int64) int64 {
	txt := t.str()
	if pos >= int64(len(txt)) {
		return 0
	}
	return int64(copy(userBytes(p, n), txt[pos:]))
}

// limitsTxt is /proc/1/limits: the same as getrlimit's answers.
const limitsTxt = "Limit                     Soft Limit           Hard Limit           Units     \n" +
	"Max cpu time              unlimited            unlimited            seconds   \n" +
	"Max file size             unlimited            unlimited            bytes     \n" +
	"Max data size             unlimited            unlimited            bytes     \n" +
	"Max stack size            8388608              unlimited            bytes     \n" +
	"Max core file size        unlimited            unlimited            bytes     \n" +
	"Max resident set          unlimited            unlimited            bytes     \n" +
	"Max processes             unlimited            unlimited            processes \n" +
	"Max open files            4096                 4096                 files     \n" + // maxFds
	"Max locked memory         unlimited            unlimited            bytes     \n" +
	"Max address space         unlimited            unlimited            bytes     \n" +
	"Max file locks            unlimited            unlimited            locks     \n" +
	"Max pending signals       unlimited            unlimited            signals   \n" +
	"Max msgqueue size         unlimited            unlimited            bytes     \n" +
	"Max nice priority         0                    0                    \n" +
	"Max realtime priority     0                    0                    \n" +
	"Max realtime timeout      unlimited            unlimited            us        \n"
