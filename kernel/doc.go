// Package kernel is mote's library OS: the guest side that `mote build` links
// into every image (it is imported for its side effects by a file the image
// builder adds to the main package).
//
// Everything runs at CPL 3 (ring 3). The Go runtime's system calls are plain
// function calls: the image builder rewrites each SYSCALL instruction of the
// standard library into CALL mote_syscall, which masks preemption on this CPU,
// switches to the calling thread's kernel stack and calls syscallGo. Ring 0
// runs only tiny stubs (vectors_amd64.s) for faults, the LAPIC timer and TLB
// shootdowns; they hand every event to ring-3 code (mote_upcall).
//
// Rules for code in this package, because it runs on kernel stacks with a
// fake g (see thread.kg) and may be entered from any runtime state:
//   - no heap allocation (no new/make/append growth, no string concatenation,
//     no interface conversions of non-pointer values, no escaping closures);
//   - no pointer-typed fields in kernel data structures and no pointer stores
//     to globals (they would need write barriers): use uintptr;
//   - no deep recursion (kernel stacks are kstackSize bytes and never grow).
//
// A violation shows up as a fault inside the kernel, which the ring-0 stub
// reports to the monitor (registers and a symbolized backtrace).
package kernel
