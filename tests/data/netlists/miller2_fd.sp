// Two-stage fully differential Miller OTA.
// Stage 1: NMOS pair, PMOS loads driven by the CMFB amplifier.
// Stage 2: PMOS common-source stages with NMOS current-source loads.
// Compensation: Miller capacitor with a series nulling resistor on each side.
// CMFB: resistive + capacitive output CM sensing into a small NMOS-pair amplifier.
subckt miller2_fd VINP VINN VOUTP VOUTN VCM IBN VDD VSS
M1 (o1m VINP tail VSS) nch_lvt l=0.3u w=20u m=1 nf=10
M2 (o1p VINN tail VSS) nch_lvt l=0.3u w=20u m=1 nf=10
M3 (o1m vcmfb VDD VDD) pch l=0.5u w=12u m=1 nf=6
M4 (o1p vcmfb VDD VDD) pch l=0.5u w=12u m=1 nf=6
M5 (tail IBN VSS VSS) nch l=0.5u w=16u m=2 nf=8
M6 (VOUTP o1m VDD VDD) pch l=0.2u w=48u m=2 nf=12
M7 (VOUTN o1p VDD VDD) pch l=0.2u w=48u m=2 nf=12
M8 (VOUTP IBN VSS VSS) nch l=0.5u w=24u m=2 nf=12
M9 (VOUTN IBN VSS VSS) nch l=0.5u w=24u m=2 nf=12
RZ1 (o1m cz1) rppolywo l=4u w=1u
RZ2 (o1p cz2) rppolywo l=4u w=1u
CC1 (cz1 VOUTP) cfmom_2t nr=40 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CC2 (cz2 VOUTN) cfmom_2t nr=40 lr=10u w=70n s=70n stm=3 spm=6 multi=1
RS1 (VOUTP vcms) rppolywo l=20u w=1u
RS2 (VOUTN vcms) rppolywo l=20u w=1u
CS1 (VOUTP vcms) cfmom_2t nr=10 lr=5u w=70n s=70n stm=3 spm=6 multi=1
CS2 (VOUTN vcms) cfmom_2t nr=10 lr=5u w=70n s=70n stm=3 spm=6 multi=1
M10 (vcmfb vcms ctail VSS) nch l=0.5u w=4u m=1 nf=2
M11 (nx VCM ctail VSS) nch l=0.5u w=4u m=1 nf=2
M12 (vcmfb vcmfb VDD VDD) pch l=0.5u w=3u m=1 nf=2
M13 (nx nx VDD VDD) pch l=0.5u w=3u m=1 nf=2
M14 (ctail IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
M15 (IBN IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
ends miller2_fd
