// Single-ended three-stage nested-Miller OTA with a PMOS input pair and a
// beta-multiplier bias (self-biased, one resistor).
// Stage 2 is non-inverting (NMOS common source into a PMOS mirror), stage 3 inverting.
subckt nmc3_se VINP VINN VOUT VDD VSS
M1 (a1 VINN t1 VDD) pch l=0.5u w=16u m=1 nf=4
M2 (o1 VINP t1 VDD) pch l=0.5u w=16u m=1 nf=4
M3 (a1 a1 VSS VSS) nch l=1u w=4u m=1 nf=2
M4 (o1 a1 VSS VSS) nch l=1u w=4u m=1 nf=2
M5 (t1 vbp VDD VDD) pch l=1u w=16u m=2 nf=4
M6 (x2 o1 VSS VSS) nch l=0.5u w=8u m=1 nf=4
M7 (x2 x2 VDD VDD) pch l=0.5u w=8u m=1 nf=4
M8 (o2 x2 VDD VDD) pch l=0.5u w=8u m=1 nf=4
M9 (o2 vbn VSS VSS) nch l=1u w=4u m=1 nf=2
M10 (VOUT o2 VSS VSS) nch l=0.3u w=60u m=2 nf=10
M11 (VOUT vbp VDD VDD) pch l=0.5u w=80u m=4 nf=10
CM1 (o1 VOUT) mimcap w=30u l=30u
CM2 (o2 VOUT) mimcap w=15u l=15u
M20 (vbn vbn VSS VSS) nch l=1u w=4u m=1 nf=2
M21 (vbp vbn rs VSS) nch l=1u w=16u m=1 nf=4
R1 (rs VSS) rppolywo l=20u w=1u
M22 (vbn vbp VDD VDD) pch l=1u w=8u m=1 nf=2
M23 (vbp vbp VDD VDD) pch l=1u w=8u m=1 nf=2
ends nmc3_se
