#include "textflag.h"

// func xmmAcrossFault(p *byte) (x1, x8 uint64)
// Loads known values into X1 and X8, stores to *p (which may fault), and
// returns what the registers hold afterwards.
TEXT ·xmmAcrossFault(SB),NOSPLIT,$0-24
	MOVQ	p+0(FP), DI
	MOVQ	$0x1122334455667788, AX
	MOVQ	AX, X1
	MOVQ	$0x0102030405060708, AX
	MOVQ	AX, X8
	MOVB	$1, (DI)
	MOVQ	X1, AX
	MOVQ	AX, x1+8(FP)
	MOVQ	X8, AX
	MOVQ	AX, x8+16(FP)
	RET

// func xmmAcrossSpin(n int) uint64
// Holds a value in X1 while spinning n iterations (timer interrupts hit).
TEXT ·xmmAcrossSpin(SB),NOSPLIT,$0-16
	MOVQ	n+0(FP), CX
	MOVQ	$0x1122334455667788, AX
	MOVQ	AX, X1
loop:
	DECQ	CX
	JNZ	loop
	MOVQ	X1, AX
	MOVQ	AX, ret+8(FP)
	RET

// func copyMOVSB(dst, src *byte, n int)
TEXT ·copyMOVSB(SB),NOSPLIT,$0-24
	MOVQ	dst+0(FP), DI
	MOVQ	src+8(FP), SI
	MOVQ	n+16(FP), CX
	REP;	MOVSB
	RET

// func copyMOVSQ(dst, src *byte, n int)
TEXT ·copyMOVSQ(SB),NOSPLIT,$0-24
	MOVQ	dst+0(FP), DI
	MOVQ	src+8(FP), SI
	MOVQ	n+16(FP), CX
	SHRQ	$3, CX
	REP;	MOVSQ
	RET

// func copyMOVOU(dst, src *byte, n int)
TEXT ·copyMOVOU(SB),NOSPLIT,$0-24
	MOVQ	dst+0(FP), DI
	MOVQ	src+8(FP), SI
	MOVQ	n+16(FP), CX
loop:
	MOVOU	(SI), X0
	MOVOU	16(SI), X1
	MOVOU	X0, (DI)
	MOVOU	X1, 16(DI)
	ADDQ	$32, SI
	ADDQ	$32, DI
	SUBQ	$32, CX
	JNZ	loop
	RET
