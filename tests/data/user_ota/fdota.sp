// fdota: a fully differential two-stage OTA written for the tests (none of ota1-4), with
// no .sym, .channel, .json or bench file: the reference flow derives what it needs.
//   stage 1: NMOS input pair MI1/MI2 on tail MT, PMOS loads ML1/ML2 driven by the CMFB
//   stage 2: PMOS common source MO1/MO2, NMOS current sources MS1/MS2
//   compensation: Miller caps CM1/CM2 with nulling resistors RN1/RN2
//   CMFB: output CM sensed by RC1/RC2, NMOS pair ME1/ME2 against VCM on tail MET,
//         diode loads MD1/MD2
//   bias: IBIAS into MB0; MB1/MB2 -> vpb; MB3/MB4 -> vbn
subckt fdota INP INM OUTP OUTM VCM IBIAS VDD VSS
MT (tl IBIAS VSS VSS) nch l=1u w=16u m=2 nf=8
MI1 (am INP tl VSS) nch_lvt l=0.4u w=20u m=1 nf=10
MI2 (ap INM tl VSS) nch_lvt l=0.4u w=20u m=1 nf=10
ML1 (am cmc VDD VDD) pch l=0.5u w=12u m=1 nf=6
ML2 (ap cmc VDD VDD) pch l=0.5u w=12u m=1 nf=6
MO1 (OUTP am VDD VDD) pch l=0.5u w=28u m=2 nf=14
MO2 (OUTM ap VDD VDD) pch l=0.5u w=28u m=2 nf=14
MS1 (OUTP vbn VSS VSS) nch l=1u w=20u m=2 nf=10
MS2 (OUTM vbn VSS VSS) nch l=1u w=20u m=2 nf=10
RN1 (am km) poly_res l=2u w=1u segments=1
RN2 (ap kp) poly_res l=2u w=1u segments=1
CM1 (km OUTP) cfmom_2t nr=160 lr=25u w=70n s=70n stm=3 spm=6 multi=1
CM2 (kp OUTM) cfmom_2t nr=160 lr=25u w=70n s=70n stm=3 spm=6 multi=1
RC1 (OUTP sense) poly_res l=10u w=0.4u segments=10
RC2 (OUTM sense) poly_res l=10u w=0.4u segments=10
ME1 (cmc sense et VSS) nch l=0.5u w=8u m=1 nf=4
ME2 (ey VCM et VSS) nch l=0.5u w=8u m=1 nf=4
MD1 (cmc cmc VDD VDD) pch l=0.5u w=3u m=1 nf=2
MD2 (ey ey VDD VDD) pch l=0.5u w=3u m=1 nf=2
MET (et IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
MB0 (IBIAS IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
MB1 (vpb IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
MB2 (vpb vpb VDD VDD) pch l=1u w=12u m=1 nf=6
MB3 (vbn vpb VDD VDD) pch l=1u w=12u m=1 nf=6
MB4 (vbn vbn VSS VSS) nch l=1u w=8u m=1 nf=4
ends fdota
