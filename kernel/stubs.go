package kernel

// Implemented in entry_amd64.s.

func switchto(from, to uint64)
func threadStartPC() uint64
func idleStartPC() uint64
func startIdle(to uint64)
func rt0PC() uint64
func getGS() uint64
func rdtsc() uint64
func hypercall(nr, val uint64)
func ring0Service()
func fatalHC(report uint64)
func cpuid(leaf, sub uint32) (a, b, c, d uint32)
func rdrand() (v uint64, ok bool)
func fxsave(dst uint64)
func cpuPause()
func sigrestorerPC() uint64
func resumeuserPC() uint64
func mmioRead32(addr uint64) uint32
func mmioWrite32(addr uint64, v uint32)
