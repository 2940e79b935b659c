"""The worker: the only code that imports and runs student code, in a sandboxed process of its own.

The sandbox copies this package's flat *.py files into the worker's folder and imports them as the top-level
package `worker` (see __main__.py for how it starts and the protocol it speaks); tests import it as
`grader.worker`. So every import inside the package is relative, nothing here imports `grader` (student code
must not reach the grader, the rubric or the report), and this file imports nothing: importing the package
must not import torch.
"""
