# The PyTorch side of bench/inception: the Inception module (3a) of models/inception.lua
# written with torch.nn, the same steps as bench/inception.lua. Run by bench/inception; on
# its own:
#   /usr/bin/python3 bench/inception.py BATCH STEPS THREADS
# THREADS: torch.set_num_threads; OpenBLAS's thread count comes from the environment;
# oneDNN on (PyTorch's default). Input N(0,1) [BATCH,192,28,28] without requires_grad,
# output gradient N(0,1). WARMUP (2) steps, then STEPS timed steps of zero_grad (not
# timed), forward, backward. Prints
#   torch batch=B threads=N steps=S fwdbwd_s=t1,... fwd_s=t1,... out=DIMS params=P tensors=K shapes=S
import time

from lib import csv, dims, int_args, peak_rss_kb, workload

WARMUP = 2


def inception_3a(torch, cin=192, ch=(64, 96, 128, 16, 32, 32)):
    nn = torch.nn

    def conv(i, o, k):
        # a convolution with bias and its ReLU, "same" padding (models/inception.lua's M.conv)
        return [nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU()]

    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.b1 = nn.Sequential(*conv(cin, ch[0], 1))
            self.b2 = nn.Sequential(*conv(cin, ch[1], 1), *conv(ch[1], ch[2], 3))
            self.b3 = nn.Sequential(*conv(cin, ch[3], 1), *conv(ch[3], ch[4], 5))
            self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv(cin, ch[5], 1))

        def forward(self, x):
            return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

    return Inception()


def main():
    bs, steps, threads = int_args(3, "inception.py BATCH STEPS THREADS")
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = inception_3a(torch)
    model.train()
    x = torch.randn(bs, 192, 28, 28)
    with torch.no_grad():
        out = model(x).shape
    dy = torch.randn(out)
    fwdbwd, fwd = [], []
    for s in range(-WARMUP, steps):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        y = model(x)
        t1 = time.perf_counter()
        y.backward(dy)
        t2 = time.perf_counter()
        if s >= 0:
            fwdbwd.append(t2 - t0)
            fwd.append(t1 - t0)
    print("torch batch=%d threads=%d steps=%d fwdbwd_s=%s fwd_s=%s out=%s %s peak_rss_kb=%d" % (
        bs, torch.get_num_threads(), steps, csv(fwdbwd), csv(fwd), dims(out), workload(model), peak_rss_kb()))


if __name__ == "__main__":
    main()
