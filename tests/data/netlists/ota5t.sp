// Five-transistor OTA: NMOS input pair, PMOS mirror load, NMOS tail, one bias diode.
subckt ota5t INP INM OUT IBN VDD VSS
M1 (n1 INM tail VSS) nch_lvt l=0.5u w=8u m=1 nf=4
M2 (OUT INP tail VSS) nch_lvt l=0.5u w=8u m=1 nf=4
M3 (n1 n1 VDD VDD) pch l=1u w=6u m=1 nf=2
M4 (OUT n1 VDD VDD) pch l=1u w=6u m=1 nf=2
M5 (tail IBN VSS VSS) nch l=1u w=8u m=2 nf=4
M6 (IBN IBN VSS VSS) nch l=1u w=8u m=1 nf=4
ends ota5t
