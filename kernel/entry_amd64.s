#include "textflag.h"

// Placeholder entry points (being replaced by the real kernel).
TEXT mote_start(SB),NOSPLIT|NOFRAME,$0
	LEAQ mote_vectors(SB), AX
	LEAQ mote_systrap(SB), AX
	JMP _rt0_amd64_linux(SB)

TEXT mote_vectors(SB),NOSPLIT|NOFRAME,$0
	IRETQ

TEXT mote_systrap(SB),NOSPLIT|NOFRAME,$0
	IRETQ

TEXT mote_syscall(SB),NOSPLIT|NOFRAME,$0
	BYTE $0x0f; BYTE $0x05
	RET
