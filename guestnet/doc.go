// Package guestnet is mote's guest network stack: gVisor's netstack
// (gvisor.dev/gvisor/pkg/tcpip) running as ordinary goroutines inside the
// program, wired below to the kernel's virtio-net device and above to the
// Linux socket ABI that package net uses.
//
// mote build links it into every program that imports package net, and
// builds package syscall with a hook (build/sockhook) that hands this
// package every socket system call — socket, bind, connect, accept4, read
// and write on socket descriptors, setsockopt, ... — on the calling
// goroutine, before the call would enter the kernel. So the stack runs with
// a P, may allocate and block like any Go code, and a socket operation costs
// no privilege change and no VM exit.
//
// The kernel still owns the descriptors: each socket is a kernel file
// (abi.SysSockFd) whose readiness this package keeps up to date
// (abi.SysSockReady) from netstack's waiter queues, so epoll — and with it
// Go's netpoller — works on sockets exactly as on Linux, edge-triggered.
//
// Frames move through the kernel's device file (abi.SysNetOpen): one
// goroutine reads received frames (parked in the netpoller while none are
// waiting) and injects them into the stack; transmitted frames are written
// with one writev each from the goroutine that sends them.
//
// The stack starts on the first socket call, so programs pay nothing for
// it until they use the network. Loopback (127.0.0.1, ::1) always works;
// the NIC exists when the monitor attached a device.
package guestnet
