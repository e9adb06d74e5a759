// Two-stage fully differential OTA: NMOS-input folded-cascode first stage, NMOS
// common-source second stage, indirect (Ahuja) compensation from each output to the
// source of the NMOS cascode on the same side. CMFB: output resistive sense into a
// one-transistor inverting amplifier that drives the PMOS folding current sources.
subckt fc2_ahuja INP INN OUTP OUTN IREF VDD VSS
M0 (tn vbn VSS VSS) nch l=0.5u w=20u m=2 nf=10
M1 (fa INP tn VSS) nch_lvt l=0.3u w=30u m=1 nf=10
M2 (fb INN tn VSS) nch_lvt l=0.3u w=30u m=1 nf=10
M3 (fa cmc VDD VDD) pch l=0.5u w=40u m=1 nf=10
M4 (fb cmc VDD VDD) pch l=0.5u w=40u m=1 nf=10
M5 (o1m vbpc fa VDD) pch l=0.2u w=30u m=1 nf=10
M6 (o1p vbpc fb VDD) pch l=0.2u w=30u m=1 nf=10
M7 (o1m vbnc ga VSS) nch l=0.2u w=15u m=1 nf=5
M8 (o1p vbnc gb VSS) nch l=0.2u w=15u m=1 nf=5
M9 (ga vbn VSS VSS) nch l=0.5u w=15u m=1 nf=5
M10 (gb vbn VSS VSS) nch l=0.5u w=15u m=1 nf=5
M11 (OUTP o1m VSS VSS) nch l=0.2u w=40u m=2 nf=10
M12 (OUTN o1p VSS VSS) nch l=0.2u w=40u m=2 nf=10
M13 (OUTP IREF VDD VDD) pch l=0.5u w=60u m=2 nf=10
M14 (OUTN IREF VDD VDD) pch l=0.5u w=60u m=2 nf=10
CC1 (OUTP ga) cfmom_2t nr=30 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CC2 (OUTN gb) cfmom_2t nr=30 lr=10u w=70n s=70n stm=3 spm=6 multi=1
R1 (OUTP vcms) rppolywo l=40u w=1u
R2 (OUTN vcms) rppolywo l=40u w=1u
M15 (cmc vcms VSS VSS) nch l=0.5u w=4u m=1 nf=2
M16 (cmc cmc VDD VDD) pch l=0.5u w=8u m=1 nf=2
M20 (IREF IREF VDD VDD) pch l=0.5u w=8u m=1 nf=2
M21 (vbn IREF VDD VDD) pch l=0.5u w=8u m=1 nf=2
M22 (vbn vbn VSS VSS) nch l=0.5u w=4u m=1 nf=2
M23 (vbnc IREF VDD VDD) pch l=0.5u w=4u m=1 nf=2
M24 (vbnc vbnc VSS VSS) nch l=2u w=2u m=1 nf=1
M25 (vbpc vbn VSS VSS) nch l=0.5u w=4u m=1 nf=2
M26 (vbpc vbpc VDD VDD) pch l=2u w=4u m=1 nf=1
ends fc2_ahuja
