// Ring-3 entry points of the library OS: boot, system calls, upcalls from the
// ring-0 stubs, return to user mode and kernel thread switches.
// Struct offsets come from go_asm.h (types.go).

#include "go_asm.h"
#include "textflag.h"

#define WRFSBASE_AX BYTE $0xf3; BYTE $0x48; BYTE $0x0f; BYTE $0xae; BYTE $0xd0
#define WRFSBASE_CX BYTE $0xf3; BYTE $0x48; BYTE $0x0f; BYTE $0xae; BYTE $0xd1

// mote_start is the boot entry (abi.Note.Entry). The monitor starts every vCPU
// here at CPL 3 with RSP = its boot stack, DI = &BootInfo, SI = cpu index,
// GS base = its per-CPU area, and cpu.masked = 1.
TEXT mote_start(SB),NOSPLIT|NOFRAME,$0
	// Keep the ring-0 entry points linked (the monitor finds them through the note).
	LEAQ	mote_vectors(SB), AX
	LEAQ	mote_systrap(SB), AX
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, R12		// TSC at boot
	MOVQ	DI, R13		// BootInfo
	MOVQ	SI, R15		// cpu index
	// Fake g for the boot stack: [RSP-BootStackSize+1024, RSP].
	MOVQ	cpu_self(GS), BX
	MOVQ	SP, AX
	MOVQ	AX, (cpu_bootG+8)(BX)	// stack.hi
	SUBQ	$0x4000, AX
	MOVQ	AX, (cpu_bootG+0)(BX)	// stack.lo
	ADDQ	$1024, AX
	MOVQ	AX, (cpu_bootG+16)(BX)	// stackguard0
	MOVQ	AX, (cpu_bootG+24)(BX)	// stackguard1
	LEAQ	cpu_bootG(BX), AX
	MOVQ	AX, cpu_bootTLSG(BX)
	LEAQ	cpu_bootTLS(BX), AX
	WRFSBASE_AX
	SUBQ	$32, SP
	MOVQ	R13, 0(SP)
	MOVQ	R12, 8(SP)
	MOVQ	R15, 16(SP)
	CALL	·kmain(SB)
	MOVQ	24(SP), R11	// the first thread to run
	MOVL	$0, ·klockWord(SB)
	JMP	resumeuser<>(SB)

// mote_syscall replaces every SYSCALL instruction of the Go runtime and
// syscall packages (the image builder rewrites them to CALL mote_syscall).
// Linux system call convention: AX = number, DI SI DX R10 R8 R9 = arguments,
// AX = result; CX and R11 may be clobbered; everything else is preserved.
TEXT mote_syscall(SB),NOSPLIT|NOFRAME,$0
	CMPQ	AX, $228	// clock_gettime: served without entering the kernel
	JNE	slow
	MOVQ	·monoBase(SB), CX
	CMPQ	DI, $1		// CLOCK_MONOTONIC
	JEQ	read
	MOVQ	·wallBase(SB), CX
	CMPQ	DI, $0		// CLOCK_REALTIME
	JNE	slow
read:
	MOVQ	DX, R11
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	SUBQ	·tsc0(SB), AX
	MULQ	·tscMult(SB)
	SHRQ	$32, DX, AX
	ADDQ	CX, AX
	MOVQ	$1000000000, CX
	XORL	DX, DX
	DIVQ	CX
	MOVQ	AX, 0(SI)
	MOVQ	DX, 8(SI)
	MOVQ	R11, DX
	XORL	AX, AX
	RET

slow:
	MOVQ	$1, cpu_masked(GS)
	MOVQ	cpu_cur(GS), R11
	MOVQ	SP, CX
	MOVQ	thread_kstackHi(R11), SP
	PUSHQ	CX		// usp
	PUSHQ	R15
	PUSHQ	R14
	PUSHQ	R13
	PUSHQ	R12
	PUSHQ	R10
	PUSHQ	R9
	PUSHQ	R8
	PUSHQ	DI
	PUSHQ	SI
	PUSHQ	DX
	PUSHQ	BP
	PUSHQ	BX
	PUSHQ	AX
	SUBQ	$256, SP
	MOVUPS	X0, 0(SP)
	MOVUPS	X1, 16(SP)
	MOVUPS	X2, 32(SP)
	MOVUPS	X3, 48(SP)
	MOVUPS	X4, 64(SP)
	MOVUPS	X5, 80(SP)
	MOVUPS	X6, 96(SP)
	MOVUPS	X7, 112(SP)
	MOVUPS	X8, 128(SP)
	MOVUPS	X9, 144(SP)
	MOVUPS	X10, 160(SP)
	MOVUPS	X11, 176(SP)
	MOVUPS	X12, 192(SP)
	MOVUPS	X13, 208(SP)
	MOVUPS	X14, 224(SP)
	MOVUPS	X15, 240(SP)
	LEAQ	thread_ktls(R11), CX
	WRFSBASE_CX
	MOVQ	SP, AX
	SUBQ	$16, SP
	MOVQ	AX, 0(SP)
	CALL	·syscallGo(SB)
	ADDQ	$16, SP
	MOVQ	cpu_cur(GS), R11
	CMPQ	thread_full(R11), $0
	JNE	full
	MOVQ	thread_fsbase(R11), CX
	WRFSBASE_CX
	MOVUPS	0(SP), X0
	MOVUPS	16(SP), X1
	MOVUPS	32(SP), X2
	MOVUPS	48(SP), X3
	MOVUPS	64(SP), X4
	MOVUPS	80(SP), X5
	MOVUPS	96(SP), X6
	MOVUPS	112(SP), X7
	MOVUPS	128(SP), X8
	MOVUPS	144(SP), X9
	MOVUPS	160(SP), X10
	MOVUPS	176(SP), X11
	MOVUPS	192(SP), X12
	MOVUPS	208(SP), X13
	MOVUPS	224(SP), X14
	MOVUPS	240(SP), X15
	ADDQ	$256, SP
	POPQ	AX
	POPQ	BX
	POPQ	BP
	POPQ	DX
	POPQ	SI
	POPQ	DI
	POPQ	R8
	POPQ	R9
	POPQ	R10
	POPQ	R12
	POPQ	R13
	POPQ	R14
	POPQ	R15
	POPQ	CX
	MOVQ	CX, SP
	MOVQ	$0, cpu_masked(GS)
	RET
full:
	JMP	resumeuser<>(SB)

// mote_upcall is where the ring-0 stubs send a fault or timer interrupt that
// hit user code: all general registers and RSP hold the interrupted values,
// the interrupted RIP/RFLAGS and the trap details are in the per-CPU area,
// and cpu.masked is 1. It never uses the interrupted stack.
TEXT mote_upcall(SB),NOSPLIT|NOFRAME,$0
	MOVQ	R11, cpu_scratch(GS)
	MOVQ	cpu_cur(GS), R11
	MOVQ	AX, thread_rax(R11)
	MOVQ	BX, thread_rbx(R11)
	MOVQ	CX, thread_rcx(R11)
	MOVQ	DX, thread_rdx(R11)
	MOVQ	SI, thread_rsi(R11)
	MOVQ	DI, thread_rdi(R11)
	MOVQ	BP, thread_rbp(R11)
	MOVQ	SP, thread_rsp(R11)
	MOVQ	R8, thread_r8(R11)
	MOVQ	R9, thread_r9(R11)
	MOVQ	R10, thread_r10(R11)
	MOVQ	R12, thread_r12(R11)
	MOVQ	R13, thread_r13(R11)
	MOVQ	R14, thread_r14(R11)
	MOVQ	R15, thread_r15(R11)
	MOVQ	cpu_scratch(GS), AX
	MOVQ	AX, thread_r11(R11)
	MOVQ	cpu_trapRIP(GS), AX
	MOVQ	AX, thread_rip(R11)
	MOVQ	cpu_trapRFLAGS(GS), AX
	MOVQ	AX, thread_rflags(R11)
	// XSAVE64 (R11) with every component (EDX:EAX = ~0); thread_fx is 0.
	MOVL	$-1, AX
	MOVL	$-1, DX
	BYTE $0x49; BYTE $0x0f; BYTE $0xae; BYTE $0x23
	// The interrupted code may have had DF set (Go's backward memmove runs
	// with STD): Go code requires DF clear. The user's RFLAGS are already
	// saved from the trap frame.
	CLD
	MOVQ	thread_kstackHi(R11), SP
	LEAQ	thread_ktls(R11), AX
	WRFSBASE_AX
	SUBQ	$16, SP
	MOVQ	R11, 0(SP)
	CALL	·trapGo(SB)
	MOVQ	cpu_cur(GS), R11
	JMP	resumeuser<>(SB)

// resumeuser returns to user mode with the full context saved in the thread
// R11 points at. Nothing is written to user memory: RFLAGS is restored with
// POPFQ on the kernel stack, then SP and RIP come from per-CPU slots through
// GS-relative operands, so every general register already holds its user
// value. After cpu.masked is cleared only the final JMP remains; a timer
// interrupt there is fixed up by trapGo (the context resumes at resumeRIP).
TEXT resumeuser<>(SB),NOSPLIT|NOFRAME,$0
	MOVQ	$0, thread_full(R11)
	// XRSTOR64 (R11) with every component (EDX:EAX = ~0); thread_fx is 0.
	MOVL	$-1, AX
	MOVL	$-1, DX
	BYTE $0x49; BYTE $0x0f; BYTE $0xae; BYTE $0x2b
	MOVQ	thread_fsbase(R11), AX
	WRFSBASE_AX
	MOVQ	thread_rip(R11), AX
	MOVQ	AX, cpu_resumeRIP(GS)
	MOVQ	thread_rsp(R11), AX
	MOVQ	AX, cpu_resumeRSP(GS)
	MOVQ	thread_kstackHi(R11), SP
	MOVQ	thread_rflags(R11), AX
	MOVQ	AX, -8(SP)
	MOVQ	thread_rax(R11), AX
	MOVQ	thread_rbx(R11), BX
	MOVQ	thread_rcx(R11), CX
	MOVQ	thread_rdx(R11), DX
	MOVQ	thread_rsi(R11), SI
	MOVQ	thread_rdi(R11), DI
	MOVQ	thread_rbp(R11), BP
	MOVQ	thread_r8(R11), R8
	MOVQ	thread_r9(R11), R9
	MOVQ	thread_r10(R11), R10
	MOVQ	thread_r12(R11), R12
	MOVQ	thread_r13(R11), R13
	MOVQ	thread_r14(R11), R14
	MOVQ	thread_r15(R11), R15
	MOVQ	thread_r11(R11), R11
	SUBQ	$8, SP
	BYTE $0x9d	// POPFQ (as a byte: the assembler cannot see the matching push)
	MOVQ	cpu_resumeRSP(GS), SP
	MOVQ	$0, cpu_masked(GS)
	JMP	*cpu_resumeRIP(GS)

// func resumeuserPC() uint64
TEXT ·resumeuserPC(SB),NOSPLIT,$0-8
	LEAQ	resumeuser<>(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// mote_sigrestorer is the return address of every signal handler frame (the
// pretcode slot): it performs rt_sigreturn with SP exactly at the frame, as
// Linux computes it, whatever restorer the program registered (Go's own one
// has a frame-pointer prologue once its SYSCALL became a CALL).
TEXT mote_sigrestorer(SB),NOSPLIT|NOFRAME,$0
	MOVQ	$15, AX
	CALL	mote_syscall(SB)
	INT	$3

// func sigrestorerPC() uint64
TEXT ·sigrestorerPC(SB),NOSPLIT,$0-8
	LEAQ	mote_sigrestorer(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// threadStart is where a new thread's first kernel switch lands: it goes
// straight to user mode with the context clone prepared.
TEXT threadstart<>(SB),NOSPLIT|NOFRAME,$0
	MOVL	$0, ·klockWord(SB)	// the kernel lock was handed over by switchto
	MOVQ	cpu_cur(GS), R11
	JMP	resumeuser<>(SB)

// func switchto(from, to uint64)
// Switches kernel stacks. Only BP (and SP) must survive a call in the Go ABI.
TEXT ·switchto(SB),NOSPLIT|NOFRAME,$0-16
	MOVQ	from+0(FP), AX
	MOVQ	to+8(FP), BX
	PUSHQ	BP
	MOVQ	SP, thread_ksp(AX)
	MOVQ	thread_ksp(BX), SP
	POPQ	BP
	MOVQ	BX, cpu_cur(GS)
	LEAQ	thread_ktls(BX), CX
	WRFSBASE_CX
	RET

// func threadStartPC() uint64
TEXT ·threadStartPC(SB),NOSPLIT,$0-8
	LEAQ	threadstart<>(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func rt0PC() uint64
TEXT ·rt0PC(SB),NOSPLIT,$0-8
	LEAQ	_rt0_amd64_linux(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func getGS() uint64
TEXT ·getGS(SB),NOSPLIT,$0-8
	MOVQ	cpu_self(GS), AX
	MOVQ	AX, ret+0(FP)
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func hypercall(nr, val uint64)
// A single 8-byte store to the hypercall page: KVM decodes it as an MMIO exit.
TEXT ·hypercall(SB),NOSPLIT,$0-16
	MOVQ	nr+0(FP), AX
	SHLQ	$3, AX
	MOVQ	$0xD0000000, CX
	ADDQ	CX, AX
	MOVQ	val+8(FP), CX
	MOVQ	CX, (AX)
	RET

// func ring0Service()
// Asks the ring-0 #BP stub to run the request in cpu.r0req.
TEXT ·ring0Service(SB),NOSPLIT,$0-0
	INT	$3
	RET

// func fatalHC(report uint64)
// Records the caller's frame and issues HcFatal.
TEXT ·fatalHC(SB),NOSPLIT,$0-8
	MOVQ	report+0(FP), AX
	MOVQ	BP, 48(AX)	// FatalReport.RBP
	MOVQ	SP, 32(AX)	// RSP
	MOVQ	0(SP), CX
	MOVQ	CX, 24(AX)	// RIP: our return address
	MOVQ	$0xD0000018, CX	// HypercallBase + 8*HcFatal
	MOVQ	AX, (CX)
hang:
	JMP	hang

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL	leaf+0(FP), AX
	MOVL	sub+4(FP), CX
	CPUID
	MOVL	AX, a+8(FP)
	MOVL	BX, b+12(FP)
	MOVL	CX, c+16(FP)
	MOVL	DX, d+20(FP)
	RET

// func rdrand() (v uint64, ok bool)
TEXT ·rdrand(SB),NOSPLIT,$0-9
	MOVQ	$10, CX
retry:
	BYTE $0x48; BYTE $0x0f; BYTE $0xc7; BYTE $0xf0 // RDRAND AX
	JCS	good
	DECQ	CX
	JNZ	retry
	MOVQ	$0, v+0(FP)
	MOVB	$0, ok+8(FP)
	RET
good:
	MOVQ	AX, v+0(FP)
	MOVB	$1, ok+8(FP)
	RET

// func fxsave(dst uint64)
// XSAVE64 of every component to dst (64-byte aligned, xsaveMax bytes).
TEXT ·fxsave(SB),NOSPLIT,$0-8
	MOVQ	dst+0(FP), CX
	MOVL	$-1, AX
	MOVL	$-1, DX
	BYTE $0x48; BYTE $0x0f; BYTE $0xae; BYTE $0x21 // XSAVE64 (CX)
	RET

// func cpuPause()
TEXT ·cpuPause(SB),NOSPLIT,$0-0
	PAUSE
	RET

// func mmioRead32(addr uint64) uint32
// One 4-byte load from a device register (an MMIO exit to the monitor).
TEXT ·mmioRead32(SB),NOSPLIT,$0-12
	MOVQ	addr+0(FP), AX
	MOVL	(AX), CX
	MOVL	CX, ret+8(FP)
	RET

// func mmioWrite32(addr uint64, v uint32)
// One 4-byte store to a device register.
TEXT ·mmioWrite32(SB),NOSPLIT,$0-12
	MOVQ	addr+0(FP), AX
	MOVL	v+8(FP), CX
	MOVL	CX, (AX)
	RET

// idlestart is where the first switch to a CPU's idle thread lands (the
// kernel lock is held, handed over by switchto or taken by apMain).
TEXT idlestart<>(SB),NOSPLIT|NOFRAME,$0
	CALL	·idleMain(SB)
	INT	$3

// func idleStartPC() uint64
TEXT ·idleStartPC(SB),NOSPLIT,$0-8
	LEAQ	idlestart<>(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func startIdle(to uint64)
// Leaves the boot stack for thread to's kernel stack (like switchto, with
// nothing to save: an application processor's boot stack is not used again).
TEXT ·startIdle(SB),NOSPLIT|NOFRAME,$0-8
	MOVQ	to+0(FP), BX
	MOVQ	thread_ksp(BX), SP
	MOVQ	0(SP), BP
	ADDQ	$8, SP
	MOVQ	BX, cpu_cur(GS)
	LEAQ	thread_ktls(BX), CX
	WRFSBASE_CX
	RET
