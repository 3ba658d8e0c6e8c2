"""The lab's tests: a package, so that every test imports its helpers from
``tests.support`` and no test module imports another."""
