"""Distil the published model into a fast CPU student (see docs/distillation.md).

    python tools/distil_student.py [--work runs/distil] STEP ...
        relabel | teacher-md NAME T_K PS | held-out | sample TAG MODEL | glass TAG MODEL
        | stretch TAG SOURCES... | train NAME [--features F] [--init-from CKPT] ...

Every step is resumable; `python tools/distil_student.py STEP --help` lists its options.
The steps are zifhelpers.training.distil (tested in tests/test_distil.py).
"""

from zifhelpers.training.distil import main

if __name__ == "__main__":
    main()
