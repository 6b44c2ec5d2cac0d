# The PyTorch side of bench/mlp: the same network, optimizer, loss, data and epoch
# timing as bench/mlp.lua, as a plain training loop. Run by bench/mlp; on its own:
#   /usr/bin/python3 bench/mlp.py BATCH EPOCHS THREADS MKLDNN FLUSH [DATA_DIR]
# THREADS: torch.set_num_threads; MKLDNN 0|1: torch.backends.mkldnn.enabled; FLUSH 0|1:
# torch.set_flush_denormal (denormals flushed to zero). Prints one line
#   torch batch=B threads=N mkldnn=M flush=F steps=S epoch_s=t1,t2,... loss=l1,l2,...
# after 1 warm-up epoch and EPOCHS timed ones. OpenBLAS's thread count and the malloc
# configuration come from the environment the driver starts this process with.
#   /usr/bin/python3 bench/mlp.py malloc-check
# says whether this process's glibc took the mmap and trim thresholds from the environment.
import sys
import time

from lib import malloc_check, peak_rss_kb, read_idx, train_epoch


def main():
    if sys.argv[1:2] == ["malloc-check"]:
        return malloc_check()
    import torch
    if len(sys.argv) < 6:
        sys.exit("usage: mlp.py BATCH EPOCHS THREADS MKLDNN FLUSH [DATA_DIR]")
    bs, epochs, threads, mkldnn, flush = (int(a) for a in sys.argv[1:6])
    data = sys.argv[6] if len(sys.argv) > 6 else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = bool(mkldnn)
    if flush and not torch.set_flush_denormal(True):
        sys.exit("mlp.py: this CPU cannot flush denormals")
    torch.manual_seed(0)

    x = read_idx(f"{data}/train-images-idx3-ubyte.gz").float() / 255
    y = read_idx(f"{data}/train-labels-idx1-ubyte.gz").long()
    n = x.shape[0]

    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    # eps 1e-7 as Keras (and luacnn); PyTorch's default is 1e-8
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    times, losses = [], []
    for epoch in range(1 + epochs):
        t0 = time.perf_counter()
        loss = train_epoch(torch, model, opt, loss_fn, x, y, n, bs)
        t1 = time.perf_counter()
        losses.append(loss)
        if epoch > 0:
            times.append(t1 - t0)

    print("torch batch=%d threads=%d mkldnn=%d flush=%d steps=%d epoch_s=%s loss=%s peak_rss_kb=%d" % (
        bs, torch.get_num_threads(), int(torch.backends.mkldnn.enabled), flush, (n + bs - 1) // bs,
        ",".join("%.4f" % t for t in times), ",".join("%.4f" % l for l in losses), peak_rss_kb()))


if __name__ == "__main__":
    main()
