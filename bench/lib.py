# What the PyTorch sides of the benchmarks share: the IDX reader for the data sets the
# luacnn side loads, the check that glibc took the malloc thresholds from the
# environment, one shuffled training epoch, and the fields the convolutional benchmarks
# print (measurement lists, workload, peak memory; the same as bench/lib.lua's). Imported
# by the bench/*.py scripts (from their own directory).
import ctypes
import gzip
import struct
import time


def malloc_check():
    # A 40 MiB block is above glibc's default (and largest dynamic) mmap threshold, so it
    # comes from the brk heap only when a raised mmap_threshold was honoured; freeing it
    # at the top of the heap leaves the heap as it was only when trim_threshold was too.
    # The heap grows by less than the block when its top already had free space (how much
    # depends on what the interpreter allocated before: it made the check fail for some
    # scripts and not others), so half the block's size tells brk from mmap.
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
    size = 40 << 20
    before = libc.sbrk(0)
    p = libc.malloc(size)
    grown = libc.sbrk(0)
    libc.free(p)
    after = libc.sbrk(0)
    mmap_ok = grown - before >= size // 2
    trim_ok = mmap_ok and after == grown
    print("mmap_threshold=%s trim_threshold=%s" % ("honoured" if mmap_ok else "ignored",
                                                   "honoured" if trim_ok else "ignored"))


def read_idx(path):
    # IDX: a big-endian magic (0, 0, type, ndim), ndim big-endian uint32 sizes, then the data.
    import torch
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return body.reshape(dims)


def train_epoch(torch, model, opt, loss_fn, x, y, count, bs):
    # One epoch over the first `count` samples, shuffled, in batches of bs; returns the
    # mean batch loss, the running loss a training loop reports (as fit does in luacnn).
    order = torch.randperm(count)
    loss_sum = 0.0
    for first in range(0, count, bs):
        idx = order[first:first + bs]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * idx.shape[0]
    return loss_sum / count


def timed_epochs(torch, model, opt, loss_fn, x, y, bs, epochs, warm):
    # train_epoch over the first `warm` samples, then `epochs` timed epochs over all of x;
    # returns the seconds and the mean loss of each
    n = x.shape[0]
    model.train()
    train_epoch(torch, model, opt, loss_fn, x, y, min(n, warm), bs)
    times, losses = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        losses.append(train_epoch(torch, model, opt, loss_fn, x, y, n, bs))
        times.append(time.perf_counter() - t0)
    return times, losses


def int_args(n, usage):
    # the first n command-line arguments as integers, or exit with the usage line
    import sys
    try:
        if len(sys.argv) != n + 1:
            raise ValueError
        return [int(a) for a in sys.argv[1:]]
    except ValueError:
        sys.exit("usage: " + usage)


def csv(xs):
    # [1.5, 2] -> "1.5000,2.0000", as bench/lib.lua's csv
    return ",".join("%.4f" % x for x in xs)


def peak_rss_kb():
    # the process's peak resident set in KiB: VmHWM of /proc/self/status
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def dims(shape):
    return "x".join(str(d) for d in shape)


def workload(model):
    # "params=P tensors=K shapes=S" as bench/lib.lua's workload: S the parameter tensors'
    # shapes sorted as strings, so the order of registration does not matter
    shapes = sorted(dims(p.shape) for p in model.parameters())
    params = sum(p.numel() for p in model.parameters())
    return "params=%d tensors=%d shapes=%s" % (params, len(shapes), ",".join(shapes))


if __name__ == "__main__":
    # /usr/bin/python3 bench/lib.py malloc-check: what lib.sh's check_malloc asks
    import sys
    if sys.argv[1:] != ["malloc-check"]:
        sys.exit("usage: lib.py malloc-check")
    malloc_check()
