# The PyTorch side of bench/lenet: the same LeNet-5, optimizer, loss, data and timing as
# bench/lenet.lua, as a plain training loop. Run by bench/lenet; on its own:
#   /usr/bin/python3 bench/lenet.py train BATCH EPOCHS THREADS MKLDNN FLUSH [DATA_DIR]
#   /usr/bin/python3 bench/lenet.py infer BATCH PASSES THREADS MKLDNN FLUSH [DATA_DIR]
#   /usr/bin/python3 bench/lenet.py malloc-check
# THREADS: torch.set_num_threads; MKLDNN 0|1: torch.backends.mkldnn.enabled (oneDNN's
# convolutions, else PyTorch's own im2col + GEMM); FLUSH 0|1: torch.set_flush_denormal.
# OpenBLAS's thread count and the malloc configuration come from the environment.
# train: WARMUP (100) steps on the first 100*BATCH + 60000 % BATCH images, so the short
#   last batch's shape is seen too, then EPOCHS timed epochs over all 60,000. Prints
#   torch batch=B threads=N mkldnn=M flush=F steps=S epoch_s=t1,t2,... loss=l1,l2,...
#   An epoch's time: shuffle, batch gather, forward, backward, Adam; no data loading, no
#   validation. The loss is the epoch's mean batch loss, as fit reports it.
# infer: one warm-up pass and PASSES timed passes over the 10,000 test images in eval
#   mode under torch.no_grad(), the softmax outputs written into one result tensor (what
#   model:predict returns on the luacnn side). Prints
#   torch infer batch=B threads=N mkldnn=M flush=F images=10000 pass_s=t1,t2,...
import sys
import time

from lib import malloc_check, peak_rss_kb, read_idx, train_epoch

WARMUP = 100


def lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def images(torch, path):
    x = read_idx(path).float() / 255
    return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]).contiguous()


def train(torch, model, data, bs, epochs):
    x = images(torch, f"{data}/train-images-idx3-ubyte.gz")
    y = read_idx(f"{data}/train-labels-idx1-ubyte.gz").long()
    n = x.shape[0]
    loss_fn = torch.nn.CrossEntropyLoss()
    # eps 1e-7 as Keras (and luacnn); PyTorch's default is 1e-8
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def epoch(count):
        return train_epoch(torch, model, opt, loss_fn, x, y, count, bs)

    epoch(min(n, WARMUP * bs + n % bs))
    times, losses = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        losses.append(epoch(n))
        times.append(time.perf_counter() - t0)
    return "batch=%d threads=%d mkldnn=%d flush=%%d steps=%d epoch_s=%s loss=%s peak_rss_kb=%d" % (
        bs, torch.get_num_threads(), int(torch.backends.mkldnn.enabled), (n + bs - 1) // bs,
        ",".join("%.4f" % t for t in times), ",".join("%.4f" % l for l in losses), peak_rss_kb())


def infer(torch, model, data, bs, passes):
    x = images(torch, f"{data}/t10k-images-idx3-ubyte.gz")
    n = x.shape[0]
    out = torch.empty(n, 10)
    model.eval()
    times = []
    with torch.no_grad():
        for p in range(1 + passes):
            t0 = time.perf_counter()
            for first in range(0, n, bs):
                out[first:first + bs] = torch.softmax(model(x[first:first + bs]), 1)
            if p > 0:
                times.append(time.perf_counter() - t0)
    return "infer batch=%d threads=%d mkldnn=%d flush=%%d images=%d pass_s=%s" % (
        bs, torch.get_num_threads(), int(torch.backends.mkldnn.enabled), n, ",".join("%.4f" % t for t in times))


def main():
    if sys.argv[1:2] == ["malloc-check"]:
        return malloc_check()
    if len(sys.argv) < 7 or sys.argv[1] not in ("train", "infer"):
        sys.exit("usage: lenet.py train|infer BATCH EPOCHS|PASSES THREADS MKLDNN FLUSH [DATA_DIR]")
    import torch
    mode = sys.argv[1]
    bs, count, threads, mkldnn, flush = (int(a) for a in sys.argv[2:7])
    data = sys.argv[7] if len(sys.argv) > 7 else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = bool(mkldnn)
    if flush and not torch.set_flush_denormal(True):
        sys.exit("lenet.py: this CPU cannot flush denormals")
    torch.manual_seed(0)
    model = lenet5(torch)
    line = (train if mode == "train" else infer)(torch, model, data, bs, count)
    print("torch " + line % flush)


if __name__ == "__main__":
    main()
