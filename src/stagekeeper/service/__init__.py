"""The use cases (``registry``), the ports every store implements (``ports``), the doctor
and the publishing seam. Imports the domain, never an adapter, a backend or a framework."""
