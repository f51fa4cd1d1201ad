package instance

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// writeJSON replaces path with v as indented JSON, atomically: readers
// (ps, a concurrent stop) see the old file or the new one, and a crash
// leaves one of the two, never a truncated file. The data is not fsynced:
// the state describes running processes, which a host crash ends anyway.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
