package guestnet

import (
	"encoding/binary"
	"math"
	"syscall"
	"time"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Socket options: the ones Go's net and net/http set, and the common ones
// programs set through syscall. Unknown options answer ENOPROTOOPT, as
// Linux does for an option it does not know.

const (
	soDomain      = 39
	soReusePort   = 15
	soProtocol    = 38
	soAcceptConn  = 30
	tcpUserTimeo  = 18
	tcpQuickAck   = 12
	tcpCongestion = 13
)

func optInt(p unsafe.Pointer, n uintptr) (int, syscall.Errno) {
	if p == nil {
		return 0, syscall.EFAULT
	}
	if n < 4 {
		return 0, syscall.EINVAL
	}
	return int(*(*int32)(p)), 0
}

func optTimeval(p unsafe.Pointer, n uintptr) (int64, syscall.Errno) {
	if p == nil {
		return 0, syscall.EFAULT
	}
	if n < 16 {
		return 0, syscall.EINVAL
	}
	tv := (*syscall.Timeval)(p)
	if tv.Usec < 0 || tv.Usec >= 1e6 {
		return 0, syscall.EDOM
	}
	if tv.Sec < 0 {
		return -1, 0 // sock_set_timeout: no time at all, calls do not wait
	}
	if tv.Sec > (math.MaxInt64-tv.Usec*1e3)/1e9 {
		return 0, 0 // too long to count: forever
	}
	return tv.Sec*1e9 + tv.Usec*1e3, 0
}

func (s *socket) setsockopt(level, name int, p unsafe.Pointer, n uintptr) syscall.Errno {
	so := s.ep.SocketOptions()
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
			return s.setTimeout(name, p, n)
		case syscall.SO_LINGER:
			if p == nil {
				return syscall.EFAULT
			}
			if n < 8 {
				return syscall.EINVAL
			}
			l := (*syscall.Linger)(p)
			so.SetLinger(tcpip.LingerOption{Enabled: l.Onoff != 0, Timeout: time.Duration(l.Linger) * time.Second})
			return 0
		case syscall.SO_BINDTODEVICE:
			return 0 // one interface: every binding is this one
		}
		v, e := optInt(p, n)
		if e != 0 {
			return e
		}
		switch name {
		case syscall.SO_REUSEADDR:
			so.SetReuseAddress(v != 0)
		case soReusePort:
			so.SetReusePort(v != 0)
		case syscall.SO_KEEPALIVE:
			so.SetKeepAlive(v != 0)
		case syscall.SO_BROADCAST:
			so.SetBroadcast(v != 0)
		case syscall.SO_SNDBUF:
			so.SetSendBufferSize(int64(v)*2, true) // Linux doubles it
		case syscall.SO_RCVBUF:
			so.SetReceiveBufferSize(int64(v)*2, true)
		case syscall.SO_RCVLOWAT:
			if v < 0 {
				v = 1<<31 - 1
			}
			s.keptOpts.Store(name, max(v, 1))
		case syscall.SO_OOBINLINE, syscall.SO_DONTROUTE:
			s.keptOpts.Store(name, boolInt(v != 0))
		case syscall.SO_PRIORITY:
			s.keptOpts.Store(name, v)
		default:
			return syscall.ENOPROTOOPT
		}
		return 0
	case syscall.IPPROTO_TCP:
		if !s.isStream() {
			return syscall.ENOPROTOOPT // UDP hands it to IP, which does not know it
		}
		if name == tcpCongestion {
			return 0 // one algorithm
		}
		v, e := optInt(p, n)
		if e != 0 {
			return e
		}
		switch name {
		case syscall.TCP_NODELAY:
			so.SetDelayOption(v == 0)
		case syscall.TCP_CORK:
			so.SetCorkOption(v != 0)
		case tcpQuickAck:
			so.SetQuickAck(v != 0)
		case syscall.TCP_KEEPIDLE, syscall.TCP_KEEPINTVL:
			if v < 1 || v > 32767 {
				return syscall.EINVAL
			}
			d := time.Duration(v) * time.Second
			if name == syscall.TCP_KEEPIDLE {
				o := tcpip.KeepaliveIdleOption(d)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.KeepaliveIntervalOption(d)
			return errno(s.ep.SetSockOpt(&o))
		case syscall.TCP_KEEPCNT:
			if v < 1 || v > 127 {
				return syscall.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.KeepaliveCountOption, v))
		case syscall.TCP_MAXSEG:
			return errno(s.ep.SetSockOptInt(tcpip.MaxSegOption, v))
		case tcpUserTimeo:
			if v < 0 {
				return syscall.EINVAL
			}
			o := tcpip.TCPUserTimeoutOption(time.Duration(v) * time.Millisecond)
			return errno(s.ep.SetSockOpt(&o))
		default:
			return syscall.ENOPROTOOPT
		}
		return 0
	case syscall.IPPROTO_IP:
		if s.fam != syscall.AF_INET && s.fam != syscall.AF_INET6 {
			return syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.IP_ADD_MEMBERSHIP, syscall.IP_DROP_MEMBERSHIP:
			if p == nil {
				return syscall.EFAULT
			}
			if n < 8 {
				return syscall.EINVAL
			}
			b := unsafe.Slice((*byte)(p), 8)
			m := tcpip.MembershipOption{
				MulticastAddr: tcpip.AddrFrom4Slice(b[0:4]),
				InterfaceAddr: tcpip.AddrFrom4Slice(b[4:8]),
			}
			if name == syscall.IP_ADD_MEMBERSHIP {
				o := tcpip.AddMembershipOption(m)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.RemoveMembershipOption(m)
			return errno(s.ep.SetSockOpt(&o))
		case syscall.IP_MULTICAST_IF:
			return 0
		}
		v, e := optInt(p, n)
		if e != 0 {
			// IP_MULTICAST_TTL and _LOOP also take one byte.
			if p != nil && n == 1 {
				v, e = int(*(*byte)(p)), 0
			} else {
				return e
			}
		}
		switch name {
		case syscall.IP_TTL:
			if v == -1 {
				v = 64
			}
			if v < 1 || v > 255 {
				return syscall.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.IPv4TTLOption, v))
		case syscall.IP_TOS:
			return errno(s.ep.SetSockOptInt(tcpip.IPv4TOSOption, v))
		case syscall.IP_MULTICAST_TTL:
			return errno(s.ep.SetSockOptInt(tcpip.MulticastTTLOption, v))
		case syscall.IP_MULTICAST_LOOP:
			so.SetMulticastLoop(v != 0)
			return 0
		case syscall.IP_RECVERR, syscall.IP_MTU_DISCOVER:
			return 0
		}
		return syscall.ENOPROTOOPT
	case syscall.IPPROTO_IPV6:
		if s.fam != syscall.AF_INET6 {
			return syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.IPV6_JOIN_GROUP, syscall.IPV6_LEAVE_GROUP:
			if p == nil {
				return syscall.EFAULT
			}
			if n < 20 {
				return syscall.EINVAL
			}
			b := unsafe.Slice((*byte)(p), 20)
			m := tcpip.MembershipOption{
				MulticastAddr: tcpip.AddrFrom16Slice(b[0:16]),
				NIC:           tcpip.NICID(binary.LittleEndian.Uint32(b[16:])),
			}
			if name == syscall.IPV6_JOIN_GROUP {
				o := tcpip.AddMembershipOption(m)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.RemoveMembershipOption(m)
			return errno(s.ep.SetSockOpt(&o))
		}
		v, e := optInt(p, n)
		if e != 0 {
			return e
		}
		switch name {
		case syscall.IPV6_V6ONLY:
			if fa, err := s.ep.GetLocalAddress(); err == nil && fa.Port != 0 {
				return syscall.EINVAL // Linux: not once bound
			}
			so.SetV6Only(v != 0)
			return 0
		case syscall.IPV6_UNICAST_HOPS:
			if v < -1 || v > 255 {
				return syscall.EINVAL
			}
			if v == -1 {
				v = 64
			}
			return errno(s.ep.SetSockOptInt(tcpip.IPv6HopLimitOption, v))
		case syscall.IPV6_MULTICAST_HOPS:
			return errno(s.ep.SetSockOptInt(tcpip.MulticastTTLOption, v))
		case syscall.IPV6_MULTICAST_LOOP:
			so.SetMulticastLoop(v != 0)
			return 0
		case syscall.IPV6_TCLASS:
			return errno(s.ep.SetSockOptInt(tcpip.IPv6TrafficClassOption, v))
		case syscall.IPV6_MULTICAST_IF, syscall.IPV6_RECVERR:
			return 0
		}
		return syscall.ENOPROTOOPT
	}
	return syscall.ENOPROTOOPT
}

// putOpt stores an option value into (p, *lenp), truncating like Linux.
func putOpt(p, lenp unsafe.Pointer, v []byte) syscall.Errno {
	if lenp == nil {
		return syscall.EFAULT
	}
	l := (*uint32)(lenp)
	if int32(*l) < 0 {
		return syscall.EINVAL
	}
	n := min(int(*l), len(v))
	if n > 0 && p == nil {
		return syscall.EFAULT
	}
	if n > 0 {
		copy(unsafe.Slice((*byte)(p), n), v)
	}
	*l = uint32(n)
	return 0
}

func putOptInt(p, lenp unsafe.Pointer, v int) syscall.Errno {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(int32(v)))
	return putOpt(p, lenp, b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *socket) getsockopt(level, name int, p, lenp unsafe.Pointer) syscall.Errno {
	so := s.ep.SocketOptions()
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_ERROR:
			e := errno(s.takeError())
			return putOptInt(p, lenp, int(e))
		case syscall.SO_TYPE:
			return putOptInt(p, lenp, s.typ)
		case soDomain:
			return putOptInt(p, lenp, s.fam)
		case soProtocol:
			return putOptInt(p, lenp, s.proto)
		case soAcceptConn:
			listening := false
			if s.isStream() {
				listening = s.ep.State() == 10 // tcp.StateListen
			}
			return putOptInt(p, lenp, boolInt(listening))
		case syscall.SO_REUSEADDR:
			return putOptInt(p, lenp, boolInt(so.GetReuseAddress()))
		case soReusePort:
			return putOptInt(p, lenp, boolInt(so.GetReusePort()))
		case syscall.SO_KEEPALIVE:
			return putOptInt(p, lenp, boolInt(so.GetKeepAlive()))
		case syscall.SO_BROADCAST:
			return putOptInt(p, lenp, boolInt(so.GetBroadcast()))
		case syscall.SO_SNDBUF:
			return putOptInt(p, lenp, int(so.GetSendBufferSize()))
		case syscall.SO_RCVBUF:
			return putOptInt(p, lenp, int(so.GetReceiveBufferSize()))
		case syscall.SO_LINGER:
			l := so.GetLinger()
			var b [8]byte
			binary.LittleEndian.PutUint32(b[0:], uint32(boolInt(l.Enabled)))
			binary.LittleEndian.PutUint32(b[4:], uint32(l.Timeout/time.Second))
			return putOpt(p, lenp, b[:])
		case syscall.SO_OOBINLINE, syscall.SO_DONTROUTE, syscall.SO_PRIORITY, syscall.SO_RCVLOWAT:
			v := 0
			if name == syscall.SO_RCVLOWAT {
				v = 1
			}
			if k, ok := s.keptOpts.Load(name); ok {
				v = k.(int)
			}
			return putOptInt(p, lenp, v)
		case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
			return s.getTimeout(name, p, lenp)
		}
		return syscall.ENOPROTOOPT
	case syscall.IPPROTO_TCP:
		if !s.isStream() {
			return s.getLevelErr() // UDP hands it to IP
		}
		switch name {
		case syscall.TCP_NODELAY:
			return putOptInt(p, lenp, boolInt(!so.GetDelayOption()))
		case syscall.TCP_CORK:
			return putOptInt(p, lenp, boolInt(so.GetCorkOption()))
		case syscall.TCP_KEEPIDLE:
			var o tcpip.KeepaliveIdleOption
			if err := s.ep.GetSockOpt(&o); err != nil {
				return errno(err)
			}
			return putOptInt(p, lenp, int(time.Duration(o)/time.Second))
		case syscall.TCP_KEEPINTVL:
			var o tcpip.KeepaliveIntervalOption
			if err := s.ep.GetSockOpt(&o); err != nil {
				return errno(err)
			}
			return putOptInt(p, lenp, int(time.Duration(o)/time.Second))
		case syscall.TCP_KEEPCNT:
			v, err := s.ep.GetSockOptInt(tcpip.KeepaliveCountOption)
			if err != nil {
				return errno(err)
			}
			return putOptInt(p, lenp, v)
		case syscall.TCP_MAXSEG:
			v, err := s.ep.GetSockOptInt(tcpip.MaxSegOption)
			if err != nil {
				return errno(err)
			}
			return putOptInt(p, lenp, v)
		}
		return syscall.ENOPROTOOPT
	case syscall.IPPROTO_IP:
		switch name {
		case syscall.IP_TTL:
			v, err := s.ep.GetSockOptInt(tcpip.IPv4TTLOption)
			if err != nil {
				return errno(err)
			}
			if v == 0 {
				v = 64
			}
			return putOptInt(p, lenp, v)
		case syscall.IP_TOS:
			v, err := s.ep.GetSockOptInt(tcpip.IPv4TOSOption)
			if err != nil {
				return errno(err)
			}
			return putOptInt(p, lenp, v)
		}
		return syscall.ENOPROTOOPT
	case syscall.IPPROTO_IPV6:
		if s.fam != syscall.AF_INET6 {
			return s.getLevelErr()
		}
		switch name {
		case syscall.IPV6_V6ONLY:
			return putOptInt(p, lenp, boolInt(so.GetV6Only()))
		case syscall.IPV6_UNICAST_HOPS:
			v, err := s.ep.GetSockOptInt(tcpip.IPv6HopLimitOption)
			if err != nil {
				return errno(err)
			}
			if v < 0 {
				v = 64
			}
			return putOptInt(p, lenp, v)
		}
		return syscall.ENOPROTOOPT
	}
	return s.getLevelErr()
}

// getLevelErr is getsockopt's answer for a level the protocol does not
// handle: Linux passes it down to IP, whose ip_getsockopt says
// EOPNOTSUPP and ipv6_getsockopt ENOPROTOOPT. (setsockopt says
// ENOPROTOOPT in both.)
func (s *socket) getLevelErr() syscall.Errno {
	if s.fam == syscall.AF_INET6 {
		return syscall.ENOPROTOOPT
	}
	return syscall.EOPNOTSUPP
}

// setTimeout stores SO_RCVTIMEO or SO_SNDTIMEO (all socket kinds).
func (s *socket) setTimeout(name int, p unsafe.Pointer, n uintptr) syscall.Errno {
	ns, e := optTimeval(p, n)
	if e != 0 {
		return e
	}
	if name == syscall.SO_RCVTIMEO {
		s.rcvTimeo.Store(ns)
	} else {
		s.sndTimeo.Store(ns)
	}
	return 0
}

// getTimeout reports SO_RCVTIMEO or SO_SNDTIMEO as a struct timeval.
func (s *socket) getTimeout(name int, p, lenp unsafe.Pointer) syscall.Errno {
	ns := s.rcvTimeo.Load()
	if name == syscall.SO_SNDTIMEO {
		ns = s.sndTimeo.Load()
	}
	ns = max(ns, 0) // no time at all reads as none set, as on Linux
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9/1e3))
	return putOpt(p, lenp, b[:])
}
