"""The public calls' cost with and without parameters passed by keyword, 16 float32 elements.

    python bench/dispatch_params.py

Cython backend, 2 threads, out= preallocated; best of 7 repeats of 20,000 calls, ns per
call.  docs/tuning.md, "Parameters by keyword, and the bench's settling calls".
"""
import numpy as np, timeit, functools, fastact
x=np.ones(16,np.float32); g=x.copy(); o=np.empty_like(x)
fastact.set_num_threads(2)
fb=fastact.backward
n=20000
for name,f in [('backward plain',lambda: fb('hardtanh',g,x,out=o,backend='cython')),
               ('backward kw',lambda: fb('hardtanh',g,x,out=o,backend='cython',min_val=-1.0,max_val=1.0)),
               ('backward kw y',lambda: fb('hardtanh',g,y=x,out=o,backend='cython',min_val=-1.0,max_val=1.0)),
               ('leaky kw',lambda: fb('leaky_relu',g,x,out=o,backend='cython',negative_slope=0.01)),
               ('hardtanh fwd kw', lambda: fastact.hardtanh(x,out=o,backend='cython',min_val=-1.0,max_val=1.0)),
               ('hardtanh fwd', lambda: fastact.hardtanh(x,out=o,backend='cython')),
               ('relu', lambda: fastact.relu(x,out=o,backend='cython')),
               ]:
    print(f"{name:16s}", round(min(timeit.repeat(f,number=n,repeat=7))/n*1e9), 'ns')
