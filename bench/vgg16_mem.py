# The PyTorch side of bench/vgg16_mem: torchvision's VGG-16 (224x224, 1000 classes), the
# same steps as bench/vgg16_mem.lua, then the process's peak resident set. Run by
# bench/vgg16_mem; on its own:
#   /usr/bin/python3 bench/vgg16_mem.py BATCH STEPS THREADS
#   /usr/bin/python3 bench/vgg16_mem.py malloc-check
# A step: zero_grad, forward, CrossEntropyLoss on the logits, backward, plain SGD (lr
# 0.01, no momentum). Inputs N(0,1), labels 0..BATCH-1. Prints
#   torch batch=B threads=N steps=S step_s=t1,t2,... build_s=t peak_rss_kb=K params=P
import sys
import time

from lib import malloc_check


def peak_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    if sys.argv[1] == "malloc-check":
        malloc_check()
        return
    batch, steps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    import torch
    import torchvision
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = torchvision.models.vgg16()
    build_s = time.perf_counter() - t0
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 3, 224, 224)
    labels = torch.arange(batch)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward()
        opt.step()
        times.append("%.3f" % (time.perf_counter() - t))
    params = sum(p.numel() for p in model.parameters())
    print("torch batch=%d threads=%d steps=%d step_s=%s build_s=%.3f peak_rss_kb=%d params=%d"
          % (batch, threads, steps, ",".join(times), build_s, peak_kb(), params))


if __name__ == "__main__":
    main()
