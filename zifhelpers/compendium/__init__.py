"""The notebooks' plumbing: profiles, the papermill runner, results files, the report, figures.

``profiles``  settings of each notebook per profile (smoke, quick, cpu, paper)
``runner``    ``python -m zifhelpers run``: notebooks with papermill, resumable
``results``   results JSON files, campaign summaries, the machine a number was measured on
``report``    ``REPRODUCTION.md``: our numbers beside the paper's
``plotting``  one figure style, PNG + PDF
``viewer``    3-D views (nglview)
"""
