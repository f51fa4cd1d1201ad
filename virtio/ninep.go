package virtio

// The 9P transport (virtio 1.2 section 5.14, device ID Device9P): one
// request queue. The driver posts each 9P T-message in device-readable
// buffers followed by device-writable buffers for the R-message; the device
// returns the chain with the length of the R-message it wrote. The
// configuration space is the mount tag the guest mounts the file system by.
const (
	// F9PMountTag (VIRTIO_9P_MOUNT_TAG): the configuration space holds the
	// mount tag. Linux refuses a device without it.
	F9PMountTag = 0

	// Offsets in the configuration space (RegConfig + offset): tag_len
	// (uint16), then tag_len bytes of tag, not NUL-terminated.
	NinePCfgTagLen = 0
	NinePCfgTag    = 2

	// NinePRequestQueue is the virtqueue number of the request queue.
	NinePRequestQueue = 0
)
