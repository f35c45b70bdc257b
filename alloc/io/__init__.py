"""Writers and readers at the edge of the package (NetCDF, CSV, Excel)."""
