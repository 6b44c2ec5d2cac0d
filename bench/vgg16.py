# The PyTorch side of bench/vgg16: torchvision.models.vgg16() (224x224, 1000 classes), the
# same steps as bench/vgg16.lua, then the process's peak resident set. Run by bench/vgg16;
# on its own:
#   /usr/bin/python3 bench/vgg16.py BATCH STEPS THREADS [MOMENTUM]
# THREADS: torch.set_num_threads; OpenBLAS's thread count comes from the environment;
# oneDNN on (PyTorch's default). A step: zero_grad (set_to_none, not timed), forward,
# CrossEntropyLoss on the logits, backward, SGD (lr 0.01, momentum MOMENTUM, default 0). Input N(0,1)
# [BATCH,3,224,224] without requires_grad, random labels 0..999. WARMUP (1) step,
# then STEPS timed steps. Prints
#   torch batch=B threads=N steps=S momentum=M fwd_s=... fwdbwd_s=... step_s=... peak_rss_kb=K out=DIMS params=P tensors=K shapes=S
import sys
import time

from lib import csv, dims, int_args, peak_rss_kb, workload

WARMUP = 1


def main():
    momentum = float(sys.argv.pop(4)) if len(sys.argv) > 4 else 0.0
    bs, steps, threads = int_args(3, "vgg16.py BATCH STEPS THREADS [MOMENTUM]")
    import torch
    import torchvision
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.vgg16()
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)
    x = torch.randn(bs, 3, 224, 224)
    labels = torch.randint(0, 1000, (bs,))
    fwd, fwdbwd, step = [], [], []
    for s in range(-WARMUP, steps):
        opt.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        logits = model(x)
        t1 = time.perf_counter()
        loss_fn(logits, labels).backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if s >= 0:
            fwd.append(t1 - t0)
            fwdbwd.append(t2 - t0)
            step.append(t3 - t0)
        out = logits.shape
    print("torch batch=%d threads=%d steps=%d momentum=%g fwd_s=%s fwdbwd_s=%s step_s=%s peak_rss_kb=%d out=%s %s" % (
        bs, torch.get_num_threads(), steps, momentum, csv(fwd), csv(fwdbwd), csv(step), peak_rss_kb(), dims(out),
        workload(model)))


if __name__ == "__main__":
    main()
