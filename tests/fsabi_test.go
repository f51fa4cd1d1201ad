package tests

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// fsABIDiffs are the checks of progs/fsabi whose result in the guest
// differs from Linux's: the check's name, the guest's result, and why.
// Every other check must print the same line natively and in mote. The
// entries marked TODO are kernel bugs and gaps still to fix: one passes
// with Linux's result too (and the test logs that it can go).
var fsABIDiffs = map[string]struct{ guest, why string }{
	// bugAccessMode
	`mode.access_bad_mode`: {`OK`, bugAccessMode},
	// bugAccmode3
	`open.accmode3_read`:    {`OK`, bugAccmode3},
	`open.accmode3_write`:   {`OK`, bugAccmode3},
	`open.accmode3_content`: {`"accacc"`, bugAccmode3},
	// bugChownSetid
	`mode.chown_clears_setid`:         {`OK ugrwxr-xr-x nlink=1 uid=0 gid=0 size=1`, bugChownSetid},
	`mode.chown_minus1_clears_setuid`: {`OK urwxr-xr-x nlink=1 uid=0 gid=0 size=1`, bugChownSetid},
	// bugCreatDirectory
	`open.o_directory_creat`:            {`OK`, bugCreatDirectory},
	`open.o_directory_creat_after`:      {`-rwxr-xr-x nlink=1 uid=0 gid=0 size=0`, bugCreatDirectory},
	`m.open_directory_creat(.)`:         {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(..)`:        {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(f)`:         {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(f/)`:        {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(f/.)`:       {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(f/x)`:       {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(d)`:         {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(d/)`:        {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(d/.)`:       {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(d/..)`:      {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(e)`:         {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(e/x)`:       {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(lf)`:        {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(lf/)`:       {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(ld)`:        {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(ld/)`:       {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(ld/../f)`:   {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(labs)`:      {`ENOTDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(dang)`:      {`OK -rw-r----- nlink=1 uid=0 gid=0 size=0 | nothing=-rw-r-----:""`, bugCreatDirectory},
	`m.open_directory_creat(dang/)`:     {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(loop)`:      {`ELOOP | =`, bugCreatDirectory},
	`m.open_directory_creat(loop/x)`:    {`ELOOP | =`, bugCreatDirectory},
	`m.open_directory_creat(missing)`:   {`OK -rw-r----- nlink=1 uid=0 gid=0 size=0 | missing=-rw-r-----:""`, bugCreatDirectory},
	`m.open_directory_creat(missing/)`:  {`EISDIR | =`, bugCreatDirectory},
	`m.open_directory_creat(missing/x)`: {`ENOENT | =`, bugCreatDirectory},
	// bugCreatSlash
	`m.open_creat(f/)`:             {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat(lf/)`:            {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat_excl(f/)`:        {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat_excl(d/)`:        {`EEXIST | =`, bugCreatSlash},
	`m.open_creat_excl(lf/)`:       {`EEXIST | =`, bugCreatSlash},
	`m.open_creat_excl(ld/)`:       {`EEXIST | =`, bugCreatSlash},
	`m.open_creat_excl(dang/)`:     {`EEXIST | =`, bugCreatSlash},
	`m.open_creat_rdonly(f/)`:      {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat_rdonly(lf/)`:     {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat_nofollow(f/)`:    {`ENOTDIR | =`, bugCreatSlash},
	`m.open_creat_nofollow(lf/)`:   {`ELOOP | =`, bugCreatSlash},
	`m.open_creat_nofollow(ld/)`:   {`ELOOP | =`, bugCreatSlash},
	`m.open_creat_nofollow(dang/)`: {`ELOOP | =`, bugCreatSlash},
	`m.writefile(f/)`:              {`open ENOTDIR | =`, bugCreatSlash},
	`m.writefile(lf/)`:             {`open ENOTDIR | =`, bugCreatSlash},
	// bugCreateInRemoved
	`unlinked.dir_create_in_removed`:  {`OK`, bugCreateInRemoved},
	`unlinked.dir_mkdir_in_removed`:   {`EEXIST`, bugCreateInRemoved},
	`unlinked.dir_symlink_in_removed`: {`OK`, bugCreateInRemoved},
	`unlinked.create_in_removed_cwd`:  {`OK`, bugCreateInRemoved},
	// bugEmptyWrite
	`times.empty_write_times`: {`a=past m=now c=later`, bugEmptyWrite},
	// bugFsyncOpath
	`sync.fsync_opath`: {`OK`, bugFsyncOpath},
	// bugGetdentsRemoved
	`readdir.removed_dir_readdir`: {`0 OK`, bugGetdentsRemoved},
	// bugNegTimes
	`times.chtimes_before_epoch`: {`OK atime=-99999999.-999999995 mtime=-99999999.-999999995`, bugNegTimes},
	// bugNofollowDir
	`symlink.nofollow_directory`: {`ELOOP`, bugNofollowDir},
	// bugOmitCtime
	`times.utime_omit_both`: {`OK a=past m=past c=later`, bugOmitCtime},
	// bugPwriteAppend
	`open.append_content`:      {`"Pbcdefg"`, bugPwriteAppend},
	`open.append_rdwr_read`:    {`3 OK "Pbc"`, bugPwriteAppend},
	`open.append_rdwr_content`: {`"Pbcdefgh"`, bugPwriteAppend},
	// bugRenameDots
	`rename.dot_new`:        {`EEXIST`, bugRenameDots},
	`rename.dotdot_new`:     {`EEXIST`, bugRenameDots},
	`rename.dir_dotdot_new`: {`EEXIST`, bugRenameDots},
	`dots.rename_to_dotdot`: {`EEXIST`, bugRenameDots},
	`m.rename_f_to(.)`:      {`EEXIST | =`, bugRenameDots},
	`m.rename_f_to(..)`:     {`EEXIST | =`, bugRenameDots},
	`m.rename_f_to(d/.)`:    {`EEXIST | =`, bugRenameDots},
	`m.rename_f_to(d/..)`:   {`EEXIST | =`, bugRenameDots},
	`m.rename_d_to(.)`:      {`EEXIST | =`, bugRenameDots},
	`m.rename_d_to(..)`:     {`EEXIST | =`, bugRenameDots},
	`m.rename_d_to(d/..)`:   {`EEXIST | =`, bugRenameDots},
	`m.rename_e_to(.)`:      {`EEXIST | =`, bugRenameDots},
	`m.rename_e_to(..)`:     {`EEXIST | =`, bugRenameDots},
	`m.rename_e_to(d/.)`:    {`EEXIST | =`, bugRenameDots},
	`m.rename_e_to(d/..)`:   {`EEXIST | =`, bugRenameDots},
	// bugSetgid
	`mkdir.mkdir_raw_setgid_stat`: {`dgrwxr-xr-x nlink=2 uid=0 gid=0`, bugSetgid},
	`mode.setgid_dir_new_file`:    {`-rw-r--r-- nlink=1 uid=0 gid=0 size=0`, bugSetgid},
	`mode.setgid_dir_new_dir`:     {`drwxr-xr-x nlink=2 uid=0 gid=0`, bugSetgid},
	// bugStatFlags
	`stat.fstatat_bad_flags`: {`OK`, bugStatFlags},
	// bugTime2262
	`times.utimes_y2300`: {`OK atime=-8032952073.-709551611 mtime=-8032952073.-709551611`, bugTime2262},
	// bugTrailingSlash
	`mkdir.rmdir_symlink_to_dir_slash`:   {`ENOTEMPTY`, bugTrailingSlash},
	`rename.symlink_to_dir_slash`:        {`OK`, bugTrailingSlash},
	`unlink.unlink_symlink_to_dir_slash`: {`EISDIR`, bugTrailingSlash},
	`m.mkdir(f/)`:                        {`ENOTDIR | =`, bugTrailingSlash},
	`m.rmdir(ld/)`:                       {`OK | .=n3 -d`, bugTrailingSlash},
	`m.rmdir(dang/)`:                     {`ENOENT | =`, bugTrailingSlash},
	`m.unlink(ld/)`:                      {`EISDIR | =`, bugTrailingSlash},
	`m.unlink(dang/)`:                    {`ENOENT | =`, bugTrailingSlash},
	`m.remove(ld/)`:                      {`OK | .=n3 -d`, bugTrailingSlash},
	`m.remove(dang/)`:                    {`remove ENOENT | =`, bugTrailingSlash},
	`m.removeall(ld/)`:                   {`OK | .=n3 -d`, bugTrailingSlash},
	`m.removeall(dang/)`:                 {`OK | =`, bugTrailingSlash},
	`m.rename_to_new(ld/)`:               {`OK | -d new=drwxr-xr-x`, bugTrailingSlash},
	`m.rename_to_new(dang/)`:             {`ENOENT | =`, bugTrailingSlash},
	`m.rename_onto_f(dang/)`:             {`ENOENT | =`, bugTrailingSlash},
	`m.rename_onto_d(ld/)`:               {`OK | =`, bugTrailingSlash},
	`m.rename_onto_d(dang/)`:             {`ENOENT | =`, bugTrailingSlash},
	`m.rename_noreplace_to_lf(f/)`:       {`ENOTDIR | =`, bugTrailingSlash},
	`m.rename_noreplace_to_lf(lf/)`:      {`ENOTDIR | =`, bugTrailingSlash},
	`m.rename_noreplace_to_lf(dang/)`:    {`ENOENT | =`, bugTrailingSlash},
	`m.link_f_to(f/)`:                    {`ENOTDIR | =`, bugTrailingSlash},
	`m.symlink_at(f/)`:                   {`ENOTDIR | =`, bugTrailingSlash},
	`m.mkdirall(f/)`:                     {`mkdir ENOTDIR | =`, bugTrailingSlash},
	// bugTruncDir
	`open.dir_trunc`:            {`OK`, bugTruncDir},
	`m.open_trunc_rdonly(.)`:    {`OK drwxr-xr-x nlink=4 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(..)`:   {`OK drwxr-xr-x nlink=3 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(d)`:    {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(d/)`:   {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(d/.)`:  {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(d/..)`: {`OK drwxr-xr-x nlink=4 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(e)`:    {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(ld)`:   {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	`m.open_trunc_rdonly(ld/)`:  {`OK drwxr-xr-x nlink=2 uid=0 gid=0 | =`, bugTruncDir},
	// bugTruncEmptyTimes
	`open.trunc_empty_times`: {`a=past m=past c=same`, bugTruncEmptyTimes},
	// bugUtimeFlags
	`times.utime_bad_flags`: {`OK`, bugUtimeFlags},
	// gapExchange
	`rename.exchange`:         {`EINVAL`, gapExchange},
	`rename.exchange_content`: {`"n2" "n1"`, gapExchange},
	`rename.exchange_missing`: {`EINVAL`, gapExchange},
	// gapFallocKeepSize
	`truncate.fallocate_keep_size`: {`ENOTSUP`, gapFallocKeepSize},
	// gapLinkatEmptyPath
	`link.linkat_empty_path`:       {`ENOENT`, gapLinkatEmptyPath},
	`link.linkat_empty_path_nlink`: {`-rw-r--r-- nlink=1 uid=0 gid=0 size=1`, gapLinkatEmptyPath},
	// gapStatx
	`stat.statx`:        {`ENOSYS`, gapStatx},
	`stat.statx_fields`: {`---------- nlink=0 size=0`, gapStatx},
}

// Why checks differ (see fsABIDiffs).
const (
	bugTruncEmptyTimes = "TODO kernel bug: open(O_TRUNC) of an existing empty file leaves mtime and ctime; Linux (and POSIX) update them whenever O_TRUNC opens an existing regular file"
	bugPwriteAppend    = "TODO kernel bug: pwrite(2) on an O_APPEND descriptor writes at the offset; Linux appends (pwrite(2), BUGS)"
	bugAccmode3        = "TODO kernel bug: open with access mode 3 (O_ACCMODE) gives a descriptor that reads and writes; on Linux it does neither (EBADF)"
	bugTruncDir        = "TODO kernel bug: open(directory, O_RDONLY|O_TRUNC) succeeds; Linux: EISDIR"
	bugCreatDirectory  = "TODO kernel bug: open(O_CREAT|O_DIRECTORY) is EINVAL on Linux (6.4 on) whatever the path; the guest creates a regular file, or says EISDIR/ENOTDIR"
	bugStatFlags       = "TODO kernel bug: newfstatat with unknown flag bits succeeds; Linux: EINVAL"
	gapStatx           = "TODO kernel gap: statx(2) is ENOSYS"
	bugGetdentsRemoved = "TODO kernel bug: getdents64 on a removed directory returns an empty listing; Linux: ENOENT"
	bugSetgid          = "TODO kernel bug: mkdir keeps S_ISGID from its mode argument (Linux drops it), and new entries in a set-group-ID directory take neither its group nor, for directories, the bit"
	bugRenameDots      = "TODO kernel bug: rename(2) to a path whose last component is . or .. is EEXIST; Linux: EBUSY"
	bugCreatSlash      = "TODO kernel bug: open(O_CREAT) of a path with a trailing slash whose name exists is EISDIR on Linux whatever the name is (file, directory, symlink); the guest says ENOTDIR, EEXIST or ELOOP"
	bugTrailingSlash   = "TODO kernel bug: a trailing slash on the last component of rmdir/unlink/rename/link/symlink/mkdir does not make Linux follow a symbolic link there (ENOTDIR for a link or a file to remove or move, EEXIST for an existing name to create); the guest follows it, so rmdir(\"ld/\") removes the directory ld points to and rename(\"ld/\", x) moves it"
	gapExchange        = "TODO kernel gap: renameat2(RENAME_EXCHANGE) is EINVAL; Linux (tmpfs too) swaps the names"
	gapFallocKeepSize  = "TODO kernel gap: fallocate(FALLOC_FL_KEEP_SIZE) is EOPNOTSUPP; Linux tmpfs supports it"
	bugChownSetid      = "TODO kernel bug: chown(2) of a regular file keeps S_ISUID (and S_ISGID with group execute); Linux clears them, for root too and for chown(f, -1, -1)"
	bugAccessMode      = "TODO kernel bug: access(2) with mode bits other than F_OK/R_OK/W_OK/X_OK succeeds; Linux: EINVAL"
	bugNegTimes        = "TODO kernel bug: a time before 1970 reads back from stat with a negative tv_nsec (truncating division of the nanoseconds); Linux: tv_sec floored and 0 <= tv_nsec < 1e9"
	bugTime2262        = "TODO kernel bug: times past 2262 overflow the int64 nanoseconds the guest keeps (utimensat accepts them, stat returns garbage); Linux tmpfs keeps them"
	bugOmitCtime       = "TODO kernel bug: utimensat with UTIME_OMIT for both times changes ctime; Linux changes nothing"
	bugUtimeFlags      = "TODO kernel bug: utimensat with unknown flag bits succeeds; Linux: EINVAL"
	bugEmptyWrite      = "TODO kernel bug: a write(2) of 0 bytes to a regular file updates mtime and ctime; Linux changes nothing"
	bugNofollowDir     = "TODO kernel bug: open(symlink to a directory, O_NOFOLLOW|O_DIRECTORY) is ELOOP; Linux: ENOTDIR"
	gapLinkatEmptyPath = "TODO kernel gap: linkat(fd, \"\", AT_EMPTY_PATH) is ENOENT; Linux links the open file (for root)"
	bugFsyncOpath      = "TODO kernel bug: fsync(2) on an O_PATH descriptor succeeds; Linux: EBADF"
	bugCreateInRemoved = "TODO kernel bug: creating entries in a removed directory (openat O_CREAT, mkdirat, symlinkat on its descriptor; relative paths in a removed working directory) succeeds, into the dead directory; Linux: ENOENT"
)

// fsABIGuest are the checks progs/fsabi prints with -guest, which hold only
// in mote (a read-only root, a tmpfs at /tmp), and their expected results
// (Linux's answers for such a layout).
var fsABIGuest = map[string]string{
	"guest.tmp_stat":                        "dtrwxrwxrwx nlink=2 uid=0 gid=0",
	"guest.tmp_write":                       "OK",
	"guest.tmp_read":                        `"x"`,
	"guest.tmp_rename":                      "OK",
	"guest.root_create":                     "open EROFS",
	"guest.etc_create":                      "open EROFS",
	"guest.etc_passwd_write":                "open EROFS",
	"guest.etc_passwd_trunc":                "open EROFS",
	"guest.etc_passwd_read":                 "OK",
	"guest.etc_passwd_root":                 "true",
	"guest.etc_passwd_chmod":                "chmod EROFS",
	"guest.etc_passwd_chown":                "chown EROFS",
	"guest.etc_passwd_chtimes":              "chtimes EROFS",
	"guest.etc_passwd_truncate":             "truncate EROFS",
	"guest.etc_passwd_remove":               "remove EROFS",
	"guest.etc_passwd_link":                 "link EROFS",
	"guest.etc_passwd_rename_within_root":   "rename EROFS",
	"guest.root_mkdir":                      "mkdir EROFS",
	"guest.root_symlink":                    "symlink EROFS",
	"guest.root_rmdir_etc":                  "EROFS",
	"guest.rmdir_tmp":                       "EROFS", // the parent's mount is read-only: checked before EBUSY
	"guest.rename_tmp":                      "rename EROFS",
	"guest.proc_create":                     "open EROFS",
	"guest.access_w_etc":                    "EROFS",
	"guest.access_w_tmp":                    "OK",
	"guest.root_is_readonly_not_permission": "false",
	// rename(2) checks the mounts (EXDEV) before it asks for write access
	// (EROFS); link(2) creates the new name (EROFS) before it compares them.
	"guest.rename_tmp_to_root":    "rename EXDEV",
	"guest.rename_root_to_tmp":    "rename EXDEV",
	"guest.link_tmp_to_root":      "link EROFS",
	"guest.link_root_to_tmp":      "link EXDEV",
	"guest.devnull_write":         "OK",
	"guest.mounts_read":           "OK",
	"guest.mounts_tmp_tmpfs":      "true",
	"guest.mounts_root_ro":        "true",
	"guest.proc_mounts_link":      "true",
	"guest.statfs_tmp":            "OK type=0x1021994 bsize=4096 namelen=255 rdonly=false",
	"guest.statfs_tmp_blocks":     "true",
	"guest.statfs_tmp_free_drops": "true",
	"guest.statfs_tmp_free_back":  "true",
	"guest.statfs_root":           "OK rdonly=true",
	"guest.statfs_tmp_flags":      "nosuid=true nodev=true",
	"guest.getwd":                 "/ OK",
}

// fsABIGuestTodo are guest-only checks that fail for a known kernel bug:
// the guest's current result and the bug.
var fsABIGuestTodo = map[string]struct{ guest, why string }{
	"guest.rename_tmp_to_root": {"rename EROFS", bugRenameXdev},
	"guest.rename_root_to_tmp": {"rename EROFS", bugRenameXdev},
	"guest.statfs_root":        {"OK rdonly=false", bugStatfsFlags},
	"guest.statfs_tmp_flags":   {"nosuid=false nodev=false", bugStatfsFlags},
}

const (
	bugRenameXdev  = "TODO kernel bug: rename(2) between / and /tmp is EROFS; Linux checks the mounts first: EXDEV"
	bugStatfsFlags = "TODO kernel bug: statfs(2) writes f_flags at offset 96 (f_spare) instead of 80, so ST_RDONLY, ST_NOSUID and ST_NODEV never show"
)

// TestFSABI runs progs/fsabi natively on a scratch directory and in mote on
// /tmp/fsabi and requires the same output, check by check; then it checks
// the guest-only section.
func TestFSABI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fsabi")
	if out, err := exec.Command("go", "build", "-o", bin, "./progs/fsabi").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	img := filepath.Join(dir, "fsabi.img")
	if out, err := exec.Command(moteBin, "build", "-o", img, "./progs/fsabi").CombinedOutput(); err != nil {
		t.Fatalf("mote build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	native, err := cmd.Output()
	if err != nil {
		t.Fatalf("native run: %v\nstdout:\n%s\nstderr:\n%s", err, native, stderr.String())
	}
	r := mote(t, 5*time.Minute, "run", "-m", "512M", "--net", "none", img, "--", "-guest", "/tmp/fsabi")
	if r.code != 0 {
		t.Fatalf("mote run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	want, order := parseChecks(t, "native", string(native))
	got, gorder := parseChecks(t, "guest", r.stdout)
	for _, name := range order {
		if strings.HasPrefix(name, "guest.") {
			t.Errorf("native printed the guest-only check %s", name)
		}
	}
	compared := 0
	var diff []string
	for _, name := range order {
		g, ok := got[name]
		if !ok {
			diff = append(diff, fmt.Sprintf("%s: missing in the guest's output\n    linux: %s", name, want[name]))
			continue
		}
		compared++
		if d, ok := fsABIDiffs[name]; ok {
			if g == want[name] && strings.HasPrefix(d.why, "TODO") {
				t.Logf("%s: now as on Linux; remove it from fsABIDiffs", name)
				continue
			}
			if g != d.guest {
				diff = append(diff, fmt.Sprintf("%s: allowed to differ (%s), but not like this\n    linux: %s\n    guest: %s\n    allow: %s", name, d.why, want[name], g, d.guest))
			}
			continue
		}
		if g != want[name] {
			diff = append(diff, fmt.Sprintf("%s\n    linux: %s\n    guest: %s", name, want[name], g))
		}
	}
	for _, name := range gorder {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "guest.") {
			diff = append(diff, fmt.Sprintf("%s: only in the guest's output\n    guest: %s", name, got[name]))
		}
	}
	for name := range fsABIDiffs {
		if _, ok := want[name]; !ok {
			diff = append(diff, fmt.Sprintf("%s: on the allow-list, but no such check", name))
		}
	}
	if len(diff) > 0 {
		t.Errorf("%d of %d checks differ between Linux and mote:\n%s", len(diff), compared, strings.Join(diff, "\n"))
	}

	// The guest-only section.
	var gdiff []string
	for name, w := range fsABIGuest {
		g, ok := got[name]
		switch {
		case !ok:
			gdiff = append(gdiff, fmt.Sprintf("%s: missing", name))
		case fsABIGuestTodo[name].guest != "" && g != w:
			if td := fsABIGuestTodo[name]; g != td.guest {
				gdiff = append(gdiff, fmt.Sprintf("%s: known bug (%s), but got %q (want %q, the bug gave %q)", name, td.why, g, w, td.guest))
			}
		case g != w:
			gdiff = append(gdiff, fmt.Sprintf("%s\n    want:  %s\n    guest: %s", name, w, g))
		}
	}
	for name := range fsABIGuestTodo {
		if got[name] == fsABIGuest[name] {
			t.Logf("%s: now as expected; remove it from fsABIGuestTodo", name)
		}
	}
	for _, name := range gorder {
		if _, ok := fsABIGuest[name]; strings.HasPrefix(name, "guest.") && !ok {
			gdiff = append(gdiff, fmt.Sprintf("%s: no expectation (guest: %s)", name, got[name]))
		}
	}
	for name := range fsABIGuestTodo {
		if _, ok := fsABIGuest[name]; !ok {
			gdiff = append(gdiff, fmt.Sprintf("%s: a known bug of no such check", name))
		}
	}
	sort.Strings(gdiff)
	if len(gdiff) > 0 {
		t.Errorf("guest-only checks:\n%s", strings.Join(gdiff, "\n"))
	}
	t.Logf("%d checks compared (%d allowed to differ), %d guest-only", compared, len(fsABIDiffs), len(fsABIGuest))
}
