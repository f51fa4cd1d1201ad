package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// The tree at boot: the library OS's own files, the image's sealed files
// (abi/files.go) merged over them, /tmp, and the working directory.

// Generated text files (inode.data of ndText).
const (
	txtHostname = iota
	txtHosts
	txtResolv
	txtPasswd
	txtGroup
	txtMounts
	txtLimits
	txtCmdline
	// generated at each read (textRead)
	txtMaps
	txtMeminfo
	txtProcStat
	txtStat
)

const (
	passwdTxt = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	groupTxt  = "root:x:0:\nnogroup:x:65534:\n"
)

var (
	hostname    [65]byte
	hostnameLen int
	hostnameTxt [66]byte // hostname + "\n"
	mountsTxt   textBuf
	exeTarget   [256]byte // /proc/self/exe's target
	exeLen      int
)

func textOf(id uint64) string {
	switch id {
	case txtHostname:
		return unsafe.String(&hostnameTxt[0], hostnameLen+1)
	case txtHosts:
		return hostsTxt.str()
	case txtResolv:
		return resolvTxt.str()
	case txtPasswd:
		return passwdTxt
	case txtGroup:
		return groupTxt
	case txtMounts:
		return mountsTxt.str()
	case txtLimits:
		return limitsTxt
	case txtCmdline:
		return cmdlineTxt()
	}
	return ""
}

// textGenerated reports whether a text file is made at each read
// (textRead), so that its size is 0, as Linux says of /proc files.
func textGenerated(id uint64) bool { return id >= txtMaps }

// textRead reads a generated text file.
func textRead(id, p, n uint64, pos int64) int64 {
	switch id {
	case txtMaps:
		return mapsRead(p, n, pos)
	case txtMeminfo:
		return meminfoRead(p, n, pos)
	case txtProcStat:
		return procStatRead(p, n, pos)
	case txtStat:
		return procStatSysRead(p, n, pos)
	}
	return 0
}

// mk adds an inode named name (a static string) to dir; it returns the inode.
func mk(dir int32, name string, kind uint8, mode uint32, data uint64) int32 {
	ino := newInode(kind, fsRoot, mode)
	if ino == 0 || dirAdd(dir, unsafe.Slice(unsafe.StringData(name), len(name)), ino, true) < 0 {
		kpanic("mote: out of memory building the file tree")
	}
	ind(ino).data = data
	return ino
}

func mkSymlink(dir int32, name string, target []byte) {
	ino := mk(dir, name, ndSymlink, 0o777, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(target)))))
	ind(ino).size = int64(len(target))
}

func treeInit(b *abi.BootInfo) {
	fsMaxPages[fsTmp] = guestMemory() / pageSize / 2
	root := newInode(ndDir, fsRoot, 0o755)
	if root != rootIno {
		kpanic("mote: file tree: bad root")
	}
	ind(root).parent = root
	ind(root).opens++ // the working directory

	dev := mk(root, "dev", ndDir, 0o755, 0)
	mk(dev, "null", ndNull, 0o666, 0)
	mk(dev, "zero", ndZero, 0o666, 0)
	mk(dev, "random", ndRandom, 0o666, 0)
	mk(dev, "urandom", ndRandom, 0o666, 0)
	etc := mk(root, "etc", ndDir, 0o755, 0)
	hostnameTxt[hostnameLen] = '\n'
	mk(etc, "hostname", ndText, 0o644, txtHostname)
	mk(etc, "hosts", ndText, 0o644, txtHosts)
	mk(etc, "resolv.conf", ndText, 0o644, txtResolv)
	mk(etc, "passwd", ndText, 0o644, txtPasswd)
	mk(etc, "group", ndText, 0o644, txtGroup)
	proc := mk(root, "proc", ndDir, 0o555, 0)
	self := mk(proc, "1", ndDir, 0o555, 0) // the program is process 1
	mkSymlink(proc, "self", []byte("1"))
	mk(self, "mounts", ndText, 0o444, txtMounts)
	mk(self, "maps", ndText, 0o444, txtMaps)
	mk(self, "stat", ndText, 0o444, txtProcStat)
	mk(self, "limits", ndText, 0o444, txtLimits)
	mk(self, "cmdline", ndText, 0o444, txtCmdline)
	ind(mk(self, "fd", ndDir, 0o500, 0)).data = fdDirMark
	fdLinkIno = newInode(ndFdLink, fsRoot, 0o700) // names no file: its entries' type
	if fdLinkIno == 0 {
		kpanic("mote: out of memory building the file tree")
	}
	procInit(b)
	mkSymlink(proc, "mounts", []byte("self/mounts"))
	mk(proc, "meminfo", ndText, 0o444, txtMeminfo)
	mk(proc, "stat", ndText, 0o444, txtStat)
	exeLen = exePath(b)
	mkSymlink(self, "exe", exeTarget[:exeLen])
	mk(root, "sys", ndDir, 0o555, 0)
	tmp := mk(root, "tmp", ndDir, 0o1777, 0)
	ind(tmp).fs = fsTmp

	m := &mountsTxt
	m.s("rootfs / rootfs ro 0 0\ntmpfs /tmp tmpfs rw,nosuid,nodev,size=")
	m.dec(fsMaxPages[fsTmp] * 4)
	m.s("k,mode=1777 0 0\n")

	if b.FilesLen != 0 {
		sealedInit(b.FilesGPA, b.FilesLen)
	}
	if b.MountsLen != 0 {
		mountsInit(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(b.MountsGPA))), b.MountsLen), guestMemory())
	}
	workdirInit(b)
}

// exePath writes /proc/self/exe's target: "/" + the program name (argv[0]
// is the image's name; the image is not a file in the guest).
func exePath(b *abi.BootInfo) int {
	strs := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(b.StringsGPA))), b.StringsLen)
	n := 0
	if b.Argc == 0 || len(strs) == 0 || strs[0] != '/' {
		exeTarget[0] = '/'
		n = 1
	}
	for i := 0; b.Argc > 0 && i < len(strs) && strs[i] != 0 && n < len(exeTarget); i++ {
		exeTarget[n] = strs[i]
		n++
	}
	return n
}

// sealedInit adds the archive's entries to the tree. Its directories merge
// with the library OS's; its files replace generated ones of the same path
// (a sealed /etc/hosts wins). The monitor checked the archive
// (abi.CheckFiles): parents come before children.
func sealedInit(base, size uint64) {
	count := uint64(*(*uint32)(unsafe.Pointer(uintptr(base + 8))))
	namesOff := *(*uint64)(unsafe.Pointer(uintptr(base + 16)))
	// The inode of each entry, kept in a scratch run of frames.
	pages := (count*4 + pageSize - 1) / pageSize
	inos := kallocPages(pages)
	if inos == 0 {
		kpanic("mote: out of memory loading the sealed files")
	}
	inoOf := func(i uint64) *int32 { return (*int32)(unsafe.Pointer(uintptr(inos + i*4))) }
	*inoOf(0) = rootIno
	for i := uint64(1); i < count; i++ {
		e := (*[abi.FileEntrySize]byte)(unsafe.Pointer(uintptr(base + abi.FilesHeaderSize + i*abi.FileEntrySize)))
		fe := abi.GetFileEntry(e[:])
		dir := *inoOf(uint64(fe.Parent))
		if dir == 0 {
			continue // below an entry that was skipped
		}
		name := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(base+namesOff+uint64(fe.NameOff)))), fe.NameLen)
		var kind uint8
		switch fe.Mode & abi.ModeTypeMask {
		case abi.ModeDir:
			kind = ndDir
		case abi.ModeSymlink:
			kind = ndSymlink
		default:
			kind = ndSealed
		}
		if old := dirLookup(dir, name); old != 0 {
			oi := den(old).ino
			if kind == ndDir && ind(oi).kind == ndDir {
				*inoOf(i) = oi // merge
				continue
			}
			if ind(oi).fs != fsRoot || ind(oi).kind == ndDir {
				continue // never over /tmp or a directory
			}
			dirRemove(dir, old)
			ind(oi).nlink--
		}
		// Below /tmp the entries are the tmpfs's: writable, and a
		// sealed file there is copied into tmpfs pages when first
		// written (tmpAdopt).
		ino := newInode(kind, ind(dir).fs, fe.Mode)
		if ino == 0 || dirAdd(dir, name, ino, true) < 0 {
			kpanic("mote: out of memory loading the sealed files")
		}
		nd := ind(ino)
		t := nsTime(fe.Mtime)
		nd.atime, nd.mtime, nd.ctime = t, t, t
		if kind != ndDir {
			nd.data, nd.size = base+fe.Off, int64(fe.Size)
		}
		*inoOf(i) = ino
	}
}

// workdirInit enters the working directory the monitor passed after the
// environment, when it exists.
func workdirInit(b *abi.BootInfo) {
	strs := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(b.StringsGPA))), b.StringsLen)
	i, skip := 0, int(b.Argc+b.Envc)
	for ; skip > 0 && i < len(strs); i++ {
		if strs[i] == 0 {
			skip--
		}
	}
	if i >= len(strs) || strs[i] != '/' {
		return
	}
	w := &walkers[0]
	n := 0
	for i < len(strs) && strs[i] != 0 && n < len(w.buf) {
		w.buf[n] = strs[i]
		n++
		i++
	}
	w.n = n
	r, err := w.walk(rootIno, wFollow)
	if err < 0 || ind(r.ino).kind != ndDir {
		kprint("mote: the working directory ")
		kprint(unsafe.String(&w.buf[0], n))
		kprint(" does not exist in the guest; starting in /\n")
		return
	}
	sysChdir(int64(r.ino))
}

// mapsRead copies bytes [pos, pos+n) of /proc/self/maps into user memory
// at p: the image's loadable segments (from its ELF program headers, in
// memory at abi.ImageBase), named as /proc/self/exe names the program, then
// one line per mapping of the mapping table, anonymous and private, in
// Linux's format ("start-end perms offset dev inode [path]").
func mapsRead(p, n uint64, pos int64) int64 {
	var line textBuf
	done := uint64(0)
	off := int64(0)
	emit := func(start, end uint64, r, w, x bool, fileOff uint64, file bool) {
		line.n = 0
		line.hex8(start)
		line.s("-")
		line.hex8(end)
		perm := [6]byte{' ', '-', '-', '-', 'p', ' '}
		if r {
			perm[1] = 'r'
		}
		if w {
			perm[2] = 'w'
		}
		if x {
			perm[3] = 'x'
		}
		line.s(unsafe.String(&perm[0], 6))
		line.hex8(fileOff)
		if file {
			line.s(" 00:01 1 ")
			line.s(unsafe.String(&exeTarget[0], exeLen))
			line.s("\n")
		} else {
			line.s(" 00:00 0\n")
		}
		l := int64(line.n)
		if off+l > pos && done < n {
			from := max(pos-off, 0)
			c := copy(userBytes(p+done, n-done), line.b[from:l])
			done += uint64(c)
			pos += int64(c)
		}
		off += l
	}
	// The image: an ELF64 header at ImageBase (the first segment loads
	// the file from offset 0).
	hdr := uint64(abi.ImageBase)
	if *(*uint32)(unsafe.Pointer(uintptr(hdr))) == 0x464c457f { // "\x7fELF"
		phoff := *(*uint64)(unsafe.Pointer(uintptr(hdr + 0x20)))
		phnum := uint64(*(*uint16)(unsafe.Pointer(uintptr(hdr + 0x38))))
		for i := uint64(0); i < phnum && phoff+(i+1)*56 <= pageSize; i++ {
			ph := hdr + phoff + i*56
			if *(*uint32)(unsafe.Pointer(uintptr(ph))) != 1 { // PT_LOAD
				continue
			}
			flags := *(*uint32)(unsafe.Pointer(uintptr(ph + 4)))
			fo := *(*uint64)(unsafe.Pointer(uintptr(ph + 8)))
			va := *(*uint64)(unsafe.Pointer(uintptr(ph + 16)))
			msz := *(*uint64)(unsafe.Pointer(uintptr(ph + 40)))
			start, end := va&^(pageSize-1), (va+msz+pageSize-1)&^(pageSize-1)
			emit(start, end, flags&4 != 0, flags&2 != 0, flags&1 != 0, fo&^(pageSize-1), true)
		}
	}
	v := vmas()
	for i := 0; i < nvma && done < n; i++ {
		emit(v[i].start, v[i].end, v[i].prot&protRead != 0, v[i].prot&protWrite != 0, v[i].prot&protExec != 0, 0, false)
	}
	return int64(done)
}

// mountsInit mounts the file systems the monitor lists (abi.MountTmpfs):
// each tmpfs gets a file system id of its own (st_dev, EXDEV between
// them, its own size limit) and a fresh root directory at its path, which
// hides what the image had there, as a mount does. Missing directories on
// the way are made (read-only ones in the root file system).
func mountsInit(blob []byte, memSize uint64) {
	next := uint8(fsTmp + 1)
	for len(blob) > 0 {
		var f [3][]byte
		for i := range f {
			j := 0
			for j < len(blob) && blob[j] != 0 {
				j++
			}
			f[i] = blob[:j]
			if j < len(blob) {
				j++
			}
			blob = blob[j:]
		}
		if string(f[0]) != abi.MountTmpfs && string(f[0]) != abi.MountNinep || len(f[1]) < 2 || f[1][0] != '/' {
			continue
		}
		if next >= maxFS {
			kprint("mote: too many file systems to mount; skipping ")
			kprint(unsafe.String(&f[1][0], len(f[1])))
			kprint("\n")
			continue
		}
		if string(f[0]) == abi.MountNinep {
			mountVolume(f[1], f[2], next)
			next++
			continue
		}
		size := memSize / 2
		if opt := string(f[2]); len(opt) > 5 && opt[:5] == "size=" {
			v := uint64(0)
			for _, c := range opt[5:] {
				if c < '0' || c > '9' {
					break
				}
				v = v*10 + uint64(c-'0')
			}
			if v > 0 {
				size = v
			}
		}
		if mountDir(f[1], next) == 0 {
			kprint("mote: cannot mount a tmpfs at ")
			kprint(unsafe.String(&f[1][0], len(f[1])))
			kprint(" (a file is in the way); the program does not start\n")
			exitGuest(mountFailedStatus)
		}
		fsMaxPages[next] = (size + pageSize - 1) / pageSize
		m := &mountsTxt
		m.s("tmpfs ")
		m.s(unsafe.String(&f[1][0], len(f[1])))
		m.s(" tmpfs rw,nosuid,nodev,size=")
		m.dec(fsMaxPages[next] * 4)
		m.s("k,mode=1777 0 0\n")
		next++
	}
}

// mountFailedStatus is the exit status of a guest whose mounts or devices
// fail to set up: the program does not run, as with mote's own errors
// before a run.
const mountFailedStatus = 125

// mountVolume mounts a host directory volume (options: tag=TAG[,ro]).
func mountVolume(path, opts []byte, fs uint8) {
	var tag []byte
	ro := false
	for len(opts) > 0 {
		i := 0
		for i < len(opts) && opts[i] != ',' {
			i++
		}
		o := opts[:i]
		if i < len(opts) {
			i++
		}
		opts = opts[i:]
		switch {
		case len(o) > 4 && string(o[:4]) == "tag=":
			tag = o[4:]
		case string(o) == "ro":
			ro = true
		}
	}
	if len(tag) == 0 || !mount9p(path, tag, fs, ro) {
		kprint("mote: cannot mount the volume at ")
		kprint(unsafe.String(&path[0], len(path)))
		kprint(" (no such device, or a file is in the way); the program does not start\n")
		exitGuest(mountFailedStatus)
	}
	m := &mountsTxt
	m.s(unsafe.String(&tag[0], len(tag)))
	m.s(" ")
	m.s(unsafe.String(&path[0], len(path)))
	if ro {
		m.s(" 9p ro,sync,dirsync,trans=virtio 0 0\n")
	} else {
		m.s(" 9p rw,sync,dirsync,trans=virtio 0 0\n")
	}
}

// mountDir makes the directories of path (static bytes of the mount list)
// and puts a new root directory with file system id fs there; it returns
// the root, or 0.
func mountDir(path []byte, fs uint8) int32 {
	dir := int32(rootIno)
	for len(path) > 0 {
		for len(path) > 0 && path[0] == '/' {
			path = path[1:]
		}
		i := 0
		for i < len(path) && path[i] != '/' {
			i++
		}
		name := path[:i]
		path = path[i:]
		if len(name) == 0 || isDots(name) {
			continue
		}
		if fsRemote[ind(dir).fs] != 0 {
			return 0 // inside a volume: its names are the host's
		}
		rest := false
		for _, c := range path {
			if c != '/' {
				rest = true
				break
			}
		}
		e := dirLookup(dir, name)
		if !rest { // the mount point: a fresh directory
			ino := newInode(ndDir, fs, 0o1777)
			if ino == 0 {
				return 0
			}
			if e != 0 {
				if ind(den(e).ino).kind != ndDir {
					return 0
				}
				dirRemove(dir, e)
			}
			if dirAdd(dir, name, ino, true) < 0 {
				return 0
			}
			return ino
		}
		if e == 0 {
			ino := newInode(ndDir, ind(dir).fs, 0o755)
			if ino == 0 || dirAdd(dir, name, ino, true) < 0 {
				return 0
			}
			dir = ino
			continue
		}
		if ind(den(e).ino).kind != ndDir {
			return 0
		}
		dir = den(e).ino
	}
	return 0
}
