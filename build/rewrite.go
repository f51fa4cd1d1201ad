package build

import (
	"strings"
)

// SyscallEntry is the library OS function that replaces every SYSCALL
// instruction of the program: the system calls of the Go runtime, of package
// syscall and of modules with their own assembly become plain calls.
const SyscallEntry = "mote_syscall"

// syscallCall is the instruction that replaces SYSCALL.
const syscallCall = "CALL " + SyscallEntry + "(SB)"

// RewriteSyscalls returns src with every SYSCALL instruction of Go assembly
// replaced by a call of SyscallEntry, and the number of instructions
// replaced. Only statements whose mnemonic is exactly SYSCALL are changed:
// comments, identifiers containing the word and other instructions are left
// alone, and the line structure is kept, so line numbers do not change.
func RewriteSyscalls(src []byte) ([]byte, int) {
	lines := strings.SplitAfter(string(src), "\n")
	n := 0
	inBlock := false // inside /* ... */
	for i, line := range lines {
		var out strings.Builder
		changed := false
		rest := line
		for len(rest) > 0 {
			if inBlock {
				end := strings.Index(rest, "*/")
				if end < 0 {
					out.WriteString(rest)
					rest = ""
					break
				}
				out.WriteString(rest[:end+2])
				rest = rest[end+2:]
				inBlock = false
				continue
			}
			// Code runs up to the next comment.
			cut := len(rest)
			lineComment := false
			if j := strings.Index(rest, "//"); j >= 0 {
				cut, lineComment = j, true
			}
			if j := strings.Index(rest, "/*"); j >= 0 && j < cut {
				cut, lineComment = j, false
			}
			code, c := rewriteCode(rest[:cut])
			if c > 0 {
				n += c
				changed = true
			}
			out.WriteString(code)
			rest = rest[cut:]
			if rest == "" {
				break
			}
			if lineComment {
				out.WriteString(rest)
				rest = ""
				break
			}
			out.WriteString("/*")
			rest = rest[2:]
			inBlock = true
		}
		if changed {
			lines[i] = out.String()
		}
	}
	if n == 0 {
		return src, 0
	}
	return []byte(strings.Join(lines, "")), n
}

// rewriteCode rewrites the comment-free part of a line, which may hold
// several statements separated by ';', each optionally preceded by labels.
func rewriteCode(code string) (string, int) {
	if !strings.Contains(code, "SYSCALL") {
		return code, 0
	}
	stmts := strings.Split(code, ";")
	n := 0
	for i, s := range stmts {
		// Keep leading labels ("name:") and surrounding white space.
		body := s
		prefix := ""
		for {
			t := strings.TrimLeft(body, " \t")
			j := strings.IndexByte(t, ':')
			if j <= 0 || !isIdent(t[:j]) {
				break
			}
			prefix += body[:len(body)-len(t)+j+1]
			body = t[j+1:]
		}
		trimmed := strings.TrimSpace(body)
		if trimmed != "SYSCALL" {
			continue
		}
		lead := body[:strings.Index(body, trimmed)]
		trail := body[strings.Index(body, trimmed)+len(trimmed):]
		stmts[i] = prefix + lead + syscallCall + trail
		n++
	}
	if n == 0 {
		return code, 0
	}
	return strings.Join(stmts, ";"), n
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '·' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
