// Two-stage fully differential OTA without compensation (like the paper's OTA4).
// Stage 1: NMOS pair with PMOS diode loads and a cross-coupled PMOS pair (gain boost).
// Stage 2: PMOS common-source stages; their NMOS current sources take the CMFB voltage.
// CMFB: resistive output CM sense into a five-transistor amplifier.
subckt twostage_nocomp INP INN OUTP OUTN VCM IBN VDD VSS
M1 (o1m INP tail VSS) nch_lvt l=0.2u w=16u m=1 nf=8
M2 (o1p INN tail VSS) nch_lvt l=0.2u w=16u m=1 nf=8
M3 (o1m o1m VDD VDD) pch l=0.5u w=4u m=1 nf=2
M4 (o1p o1p VDD VDD) pch l=0.5u w=4u m=1 nf=2
M3X (o1m o1p VDD VDD) pch l=0.5u w=3u m=1 nf=2
M4X (o1p o1m VDD VDD) pch l=0.5u w=3u m=1 nf=2
M5 (tail IBN VSS VSS) nch l=0.5u w=16u m=1 nf=8
M6 (OUTP o1m VDD VDD) pch l=0.2u w=32u m=1 nf=8
M7 (OUTN o1p VDD VDD) pch l=0.2u w=32u m=1 nf=8
M8 (OUTP vcmfb VSS VSS) nch l=0.5u w=16u m=1 nf=8
M9 (OUTN vcmfb VSS VSS) nch l=0.5u w=16u m=1 nf=8
R1 (OUTP vcms) rppolywo l=40u w=1u
R2 (OUTN vcms) rppolywo l=40u w=1u
M10 (cd vcms ct VSS) nch l=0.5u w=4u m=1 nf=2
M11 (vcmfb VCM ct VSS) nch l=0.5u w=4u m=1 nf=2
M12 (cd cd VDD VDD) pch l=0.5u w=4u m=1 nf=2
M13 (vcmfb cd VDD VDD) pch l=0.5u w=4u m=1 nf=2
M14 (ct IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
M15 (IBN IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
ends twostage_nocomp
