#include "textflag.h"

// func copyMOVSQ(dst, src unsafe.Pointer, n int)
TEXT ·copyMOVSQ(SB),NOSPLIT,$0-24
	MOVQ	dst+0(FP), DI
	MOVQ	src+8(FP), SI
	MOVQ	n+16(FP), CX
	SHRQ	$3, CX
	REP;	MOVSQ
	RET

// func copyMOVOU(dst, src unsafe.Pointer, n int)
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
