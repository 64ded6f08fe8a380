"""Dev and test gateways (`kmsgw dev`, the pytest plugin in gateway/testing): never part of `kmsgw serve`.

- runner.py: the gateway in test mode on loopback, its temp data dir, its env file and ready line;
- control.py: the control surface (clock, HSM faults, projects, audit) on its own loopback listener;
- faults.py: the HSM fault switch in front of the executor's jobs;
- seed.py / seeder.py: the seed file (fixed ids, fixed AK/SK, known key material) and how it is applied;
- threaded.py: a dev gateway on a thread of the calling process (the plugin's in-process mode);
- extensions.py: what a transport adds (endpoint lines, control routes);
- context.py: what the control surface and extensions reach; errors.py: what a dev gateway refuses.
"""
