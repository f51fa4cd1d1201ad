package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Resolve finds the image a reference names and returns it with the path
// of its file. A reference is
//
//	NAME           NAME:latest
//	NAME:TAG
//	sha256:HEX     a digest, or a prefix of at least 12 hex digits of one
//	HEX            the same without "sha256:", if no NAME:latest is so named
//
// For a digest, the image's Name and Tag are its first tag in sort order.
// Errors: ErrNotExist ("no such image: web:v2"), ErrAmbiguous, an invalid
// reference, or a damaged store entry.
func (s *Store) Resolve(ref string) (Image, string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return Image{}, "", err
	}
	idx, err := s.readIndex()
	if err != nil {
		return Image{}, "", err
	}
	digest, err := s.lookup(idx, r, ref)
	if err != nil {
		return Image{}, "", err
	}
	img, err := s.entry(idx, digest)
	if err != nil {
		return Image{}, "", err
	}
	if r.name != "" && idx.Tags[r.name+":"+r.tag] == digest {
		img.Name, img.Tag = r.name, r.tag
	}
	h := img.Hex()
	st, err := os.Stat(s.blobPath(h))
	switch {
	case img.Created.IsZero():
		return Image{}, "", fmt.Errorf("image %s (%s) is damaged: its metadata is missing from the store (remove it with mote rmi)", ref, img.Digest)
	case errors.Is(err, fs.ErrNotExist):
		return Image{}, "", fmt.Errorf("image %s (%s) is damaged: its file is missing from the store (remove it with mote rmi)", ref, img.Digest)
	case err != nil:
		return Image{}, "", err
	case st.Size() != img.Size:
		return Image{}, "", fmt.Errorf("image %s (%s) is damaged: its file changed size from %d to %d bytes (remove it with mote rmi)", ref, img.Digest, img.Size, st.Size())
	}
	return img, s.blobPath(h), nil
}

// lookup returns the digest ("sha256:<hex>") that r names.
func (s *Store) lookup(idx *index, r reference, ref string) (string, error) {
	if r.name != "" {
		if d, ok := idx.Tags[r.name+":"+r.tag]; ok {
			return d, nil
		}
		if r.prefix == "" {
			return "", fmt.Errorf("%w: %s:%s", ErrNotExist, r.name, r.tag)
		}
	}
	all, err := s.digests()
	if err != nil {
		return "", err
	}
	var match []string
	for _, h := range all {
		if strings.HasPrefix(h, r.prefix) {
			match = append(match, h)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotExist, ref)
	case 1:
		return algo + ":" + match[0], nil
	}
	sort.Strings(match)
	return "", fmt.Errorf("%w %s: it matches %d images (sha256:%s, sha256:%s, ...); give more digits", ErrAmbiguous, ref, len(match), match[0][:16], match[1][:16])
}

// entry returns the image of digest, named by its first tag. An image
// whose metadata is lost is still listed, with what the index knows.
func (s *Store) entry(idx *index, digest string) (Image, error) {
	img, err := s.readMeta(trimAlgo(digest))
	if errors.Is(err, fs.ErrNotExist) {
		img, err = Image{Digest: digest}, nil
	}
	if err != nil {
		return Image{}, err
	}
	img.Name, img.Tag = "", ""
	if refs := idx.tagsOf(digest); len(refs) > 0 {
		img.Name, img.Tag, _ = strings.Cut(refs[0], ":")
	}
	return img, nil
}

// List returns the store's images, one entry per NAME:TAG, newest first
// (then by name and tag).
func (s *Store) List() ([]Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	metas := map[string]Image{}
	var out []Image
	for ref, d := range idx.Tags {
		img, ok := metas[d]
		if !ok {
			img, err = s.entry(idx, d)
			if err != nil {
				return nil, err
			}
			metas[d] = img
		}
		img.Name, img.Tag, _ = strings.Cut(ref, ":")
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Tag < b.Tag
	})
	return out, nil
}

// Removed says what Remove did.
type Removed struct {
	Untagged []string // NAME:TAG references removed
	Deleted  []string // digests whose file and metadata were removed
}

// Remove removes a reference. For NAME[:TAG] it removes the tag, and the
// image when no other tag names it; for a digest (prefix) it removes the
// image and every tag that names it. With force, a reference that names
// nothing is not an error (as rm -f).
func (s *Store) Remove(ref string, force bool) (Removed, error) {
	var done Removed
	r, err := parseRef(ref)
	if err != nil {
		return done, err
	}
	if _, err := os.Stat(s.dir); errors.Is(err, fs.ErrNotExist) {
		if force {
			return done, nil
		}
		_, err := s.lookup(&index{}, r, ref)
		return done, err
	}
	unlock, err := s.lock()
	if err != nil {
		return done, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return done, err
	}
	digest, err := s.lookup(idx, r, ref)
	if errors.Is(err, ErrNotExist) && force {
		return done, nil
	}
	if err != nil {
		return done, err
	}
	byTag := r.name != "" && idx.Tags[r.name+":"+r.tag] == digest
	if byTag {
		done.Untagged = []string{r.name + ":" + r.tag}
	} else {
		done.Untagged = idx.tagsOf(digest)
	}
	for _, t := range done.Untagged {
		delete(idx.Tags, t)
	}
	if len(done.Untagged) > 0 {
		if err := s.writeIndex(idx); err != nil {
			return Removed{}, err
		}
	}
	if len(idx.tagsOf(digest)) == 0 {
		s.deleteImage(digest)
		done.Deleted = []string{digest}
	}
	return done, nil
}
